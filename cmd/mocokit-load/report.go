package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// stats are the outcomes by kind of request.
type stats struct {
	mix       *mix
	sent      []int
	statuses  []map[int]int
	failures  []map[string]int
	latencies [][]time.Duration // of the answered requests
}

func newStats(m *mix) *stats {
	s := &stats{mix: m, sent: make([]int, len(m.kinds))}
	for range m.kinds {
		s.statuses = append(s.statuses, map[int]int{})
		s.failures = append(s.failures, map[string]int{})
		s.latencies = append(s.latencies, nil)
	}
	return s
}

func (s *stats) record(i int, o outcome) {
	s.sent[i]++
	if o.status == 0 {
		s.failures[i][o.failure]++
		return
	}
	s.statuses[i][o.status]++
	s.latencies[i] = append(s.latencies[i], o.latency)
}

func merge(all []*stats) *stats {
	out := newStats(all[0].mix)
	for _, s := range all {
		for i := range s.sent {
			out.sent[i] += s.sent[i]
			for k, v := range s.statuses[i] {
				out.statuses[i][k] += v
			}
			for k, v := range s.failures[i] {
				out.failures[i][k] += v
			}
			out.latencies[i] = append(out.latencies[i], s.latencies[i]...)
		}
	}
	return out
}

// unexpectedIn counts kind i's outcomes that are not what it expects.
func (s *stats) unexpectedIn(i int) int {
	k := s.mix.kinds[i]
	if k.expect == nil { // abandoned: any outcome is the expected silence
		return 0
	}
	n := 0
	for status, count := range s.statuses[i] {
		if !slices.Contains(k.expect, status) {
			n += count
		}
	}
	for _, count := range s.failures[i] {
		n += count
	}
	return n
}

func (s *stats) unexpected() int {
	n := 0
	for i := range s.mix.kinds {
		n += s.unexpectedIn(i)
	}
	return n
}

// report is everything the load test prints.
type report struct {
	stats                      *stats
	elapsed                    time.Duration
	concurrency, cores         int
	startRSS, lastRSS, peakRSS int64
	serverCPU                  float64
	machineBusy                float64 // share of all cores' time not idle
	exit                       error
}

func (r report) print(w io.Writer) {
	s := r.stats
	total := 0
	for _, n := range s.sent {
		total += n
	}
	fmt.Fprintf(w, "\nmocokit-load: %d requests in %v from %d connections\n\n", total,
		r.elapsed.Round(time.Millisecond), r.concurrency)
	fmt.Fprintf(w, "%-26s %8s  %-30s %10s %9s %9s\n", "kind", "sent", "answers",
		"unexpected", "p50", "p99")
	for i, k := range s.mix.kinds {
		p50, p99 := percentile(s.latencies[i], 50), percentile(s.latencies[i], 99)
		fmt.Fprintf(w, "%-26s %8d  %-30s %10d %9s %9s\n", k.name, s.sent[i],
			answers(s.statuses[i], s.failures[i]), s.unexpectedIn(i), p50, p99)
	}
	ok := s.statuses[0][200]
	fmt.Fprintf(w, "\nserved: %d images classified (%.0f images/s), %d unexpected answers\n",
		ok, float64(ok)/r.elapsed.Seconds(), s.unexpected())
	fmt.Fprintf(w, "valid images: p50 %s, p99 %s\n", percentile(s.latencies[0], 50),
		percentile(s.latencies[0], 99))
	fmt.Fprintf(w, "CPU over the run: the server used %.0f%% of %d cores; the machine "+
		"(server, this client and anything else) was %.0f%% busy\n",
		100*r.serverCPU/r.elapsed.Seconds()/float64(r.cores), r.cores, 100*r.machineBusy)
	fmt.Fprintf(w, "server memory: %s MiB resident when ready, %s MiB at the end, "+
		"peak (VmHWM) %s MiB\n", mib(r.startRSS), mib(r.lastRSS), mib(r.peakRSS))
	exit := "exit status 0"
	if r.exit != nil {
		exit = r.exit.Error()
	}
	fmt.Fprintf(w, "server on SIGTERM: %s\n", exit)
}

func answers(statuses map[int]int, failures map[string]int) string {
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(statuses)) {
		parts = append(parts, fmt.Sprintf("%d x%d", st, statuses[st]))
	}
	for _, f := range slices.Sorted(maps.Keys(failures)) {
		parts = append(parts, fmt.Sprintf("%s x%d", f, failures[f]))
	}
	return strings.Join(parts, ", ")
}

func percentile(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	sorted := slices.Clone(d)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	i := min(len(sorted)-1, (len(sorted)*p+99)/100-1)
	return sorted[max(i, 0)].Round(100 * time.Microsecond).String()
}
