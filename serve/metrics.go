package serve

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series. Each Server has a registry
// of its own, so that tests (and programs) can run several servers.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	batchSize   *prometheus.HistogramVec
	inference   *prometheus.HistogramVec
	queueLength *prometheus.GaugeVec
	rejected    *prometheus.CounterVec
}

// unmatchedRoute labels requests to paths no route serves, so that
// scanners cannot grow the label set without bound.
const unmatchedRoute = "unmatched"

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mocokit_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mocokit_http_request_duration_seconds",
			Help:    "Time from request to answer, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
		}, []string{"route"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mocokit_batch_size",
			Help:    "Images per onnxruntime run, by model.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 to 512
		}, []string{"model"}),
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mocokit_inference_duration_seconds",
			Help:    "Time of one onnxruntime run (one batch), by model.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16), // 0.2 ms to 6.5 s
		}, []string{"model"}),
		queueLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mocokit_queue_length",
			Help: "Images waiting for a batch, by model.",
		}, []string{"model"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mocokit_queue_rejected_total",
			Help: "Requests refused with 429 because the model's queue was full.",
		}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.batchSize, m.inference,
		m.queueLength, m.rejected, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addModel creates a model's series at zero, so that they show before the
// first request.
func (m *metrics) addModel(name string) {
	m.queueLength.WithLabelValues(name).Set(0)
	m.rejected.WithLabelValues(name)
}

func (m *metrics) observeBatch(model string, n int, took time.Duration) {
	m.batchSize.WithLabelValues(model).Observe(float64(n))
	m.inference.WithLabelValues(model).Observe(took.Seconds())
}

// middleware counts and times every request. It hands a handler's error to
// echo at once, so that the status it records is the one answered.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" || c.Response().Status == 404 && route == "/*" {
			route = unmatchedRoute
		}
		m.requests.WithLabelValues(route, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// handler serves the registry in Prometheus' text format.
func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
}
