package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// workerProc is a running worker process, seen from the parent: it is
// asked one command at a time and keeps what its answers measured.
type workerProc struct {
	name  string // column name: "mocokit" or "PyTorch"
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader

	rates   []float64 // images/s of each run, in order
	warmS   float64   // seconds the warm-up took (compilation included)
	peak    int64     // the largest VmHWM answered, bytes
	version string
}

// goWorkerCmd re-executes this binary as a Go worker limited to threads.
func goWorkerCmd(spec string, threads int) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this binary to re-execute: %w", err)
	}
	cmd := exec.Command(exe, "--worker", "--backend", spec)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(threads))
	return cmd, nil
}

// torchWorkerCmd starts scripts/bench_train.py with s.Threads intra-op
// threads; the environment keeps OpenMP and MKL to the same count and sets
// OpenMP's wait policy.
func torchWorkerCmd(s settings) (*exec.Cmd, error) {
	if _, err := os.Stat(s.Script); err != nil {
		return nil, fmt.Errorf("PyTorch worker script (run from the repository root or "+
			"pass --script): %w", err)
	}
	n := strconv.Itoa(s.Threads)
	cmd := exec.Command(s.Python, s.Script, "--threads", n)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+n, "MKL_NUM_THREADS="+n)
	if s.OMPWaitPolicy != "" {
		cmd.Env = append(cmd.Env, "OMP_WAIT_POLICY="+s.OMPWaitPolicy)
	}
	return cmd, nil
}

// startWorker starts cmd with pipes to its stdin and stdout; its stderr is
// ours, so that a failing worker says why.
func startWorker(name string, cmd *exec.Cmd) (*workerProc, error) {
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s worker: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s worker: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s worker: starting %s: %w", name, cmd.Path, err)
	}
	return &workerProc{name: name, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}, nil
}

// ask sends one command about row key and reads the answer.
func (p *workerProc) ask(cmdLine, key string) (reply, error) {
	if _, err := fmt.Fprintln(p.stdin, cmdLine); err != nil {
		return reply{}, fmt.Errorf("%s worker: sending %q: %w", p.name, cmdLine, err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return reply{}, fmt.Errorf("%s worker: no answer to %q (did it exit?): %w",
			p.name, cmdLine, err)
	}
	r, err := parseReply(line, key)
	if err != nil {
		return reply{}, fmt.Errorf("%s %w", p.name, err)
	}
	p.peak = max(p.peak, r.PeakRSSBytes)
	if r.Version != "" {
		p.version = r.Version
	}
	return r, nil
}

// warm builds and warms row r; the time it took is kept apart.
func (p *workerProc) warm(r row) error {
	rep, err := p.ask("warm "+r.key(), r.key())
	p.warmS = rep.Seconds
	return err
}

// run times r.Steps steps of row r and keeps the throughput.
func (p *workerProc) run(r row) (float64, error) {
	rep, err := p.ask(fmt.Sprintf("run %s %d", r.key(), r.Steps), r.key())
	if err != nil {
		return 0, err
	}
	p.rates = append(p.rates, rep.imagesPerS())
	return rep.imagesPerS(), nil
}

// close asks the worker to quit and waits for it.
func (p *workerProc) close() error {
	_, werr := fmt.Fprintln(p.stdin, "quit")
	cerr := p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("%s worker: %w", p.name, err)
	}
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("%s worker: %w", p.name, err)
	}
	return nil
}

// kill ends a worker that is abandoned after an error.
func (p *workerProc) kill() {
	if p != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}
