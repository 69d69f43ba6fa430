package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

type result struct {
	mode        string
	requests    int64
	ok          int64
	statuses    map[int]int64
	errors      int64
	elapsed     time.Duration
	hist        *hdr.Histogram
	stored      int64 // webhooks in the stream after the run (natsstore.CountWebhooks)
	totalOK     int64 // 2xx answers of warm-up and measurement: must equal stored
	cpu         time.Duration
	peakRSS     int64
	targetRate  int
	concurrency int
	retries     int64 // resends of a body after a non-2xx answer or transport error
	gaveUp      int64 // bodies never answered 2xx within -retries resends
	e2e         *e2eResult
}

func (r result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) print(w io.Writer) {
	q := func(p float64) string {
		return fmt.Sprintf("%.2fms", float64(r.hist.ValueAtQuantile(p))/1000)
	}
	load := fmt.Sprintf("closed loop, %d in flight", r.concurrency)
	if r.targetRate > 0 {
		load = fmt.Sprintf("open loop at %d/s", r.targetRate)
	}
	var codes []string
	for c, n := range r.statuses {
		codes = append(codes, fmt.Sprintf("%d:%d", c, n))
	}
	sort.Strings(codes)
	fmt.Fprintf(w, "\n== publish mode %s (%s) ==\n", r.mode, load)
	fmt.Fprintf(w, "requests %d in %.1fs, 2xx %d, statuses [%s], transport errors %d\n",
		r.requests, r.elapsed.Seconds(), r.ok, strings.Join(codes, " "), r.errors)
	fmt.Fprintf(w, "resends (Maventa-like retries of the same body) %d, bodies given up after all resends %d\n", r.retries, r.gaveUp)
	fmt.Fprintf(w, "throughput %.0f webhooks/s (2xx)\n", r.rate())
	fmt.Fprintf(w, "latency p50 %s  p99 %s  p999 %s  max %s\n", q(50), q(99), q(99.9), q(100))
	fmt.Fprintf(w, "stored in JetStream %d, 2xx answers %d (warm-up included in both): %s\n",
		r.stored, r.totalOK, map[bool]string{true: "match", false: "MISMATCH"}[r.stored == r.totalOK])
	fmt.Fprintf(w, "service CPU %.1fs (%.0f%% of one core), peak RSS %.1f MB\n",
		r.cpu.Seconds(), 100*r.cpu.Seconds()/r.elapsed.Seconds(), float64(r.peakRSS)/(1<<20))
	if r.e2e != nil {
		r.e2e.print(w)
	}
}

func runMode(ctx context.Context, bin, mode string, o options, stderr io.Writer) (result, error) {
	var e2e *e2eRun
	var env []string
	if o.e2e {
		var err error
		if e2e, err = newE2E(o); err != nil {
			return result{}, err
		}
		defer e2e.close()
		env = e2e.serviceEnv(o.rate)
	}
	svc, err := startService(ctx, bin, mode, o.sync, env, stderr)
	if err != nil {
		return result{}, err
	}
	defer svc.stop()

	tr := &http.Transport{
		MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency, MaxConnsPerHost: o.concurrency,
		DisableCompression: true, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := svc.url + "/webhooks/maventa?secret=" + secret

	var seq atomic.Int64
	pad := strings.Repeat("x", o.pad)
	body := func() (int64, string) {
		n := seq.Add(1)
		return n, fmt.Sprintf(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"loadgen-%d","invoice_number":"%d","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920","pad":"%s"}}`, n, n, pad)
	}
	var onSend func(int64)
	if e2e != nil {
		if err := e2e.subscribe(ctx, svc.natsURL); err != nil {
			return result{}, err
		}
		body, onSend = e2e.body, e2e.sent
	}

	cpuStart, _ := svc.usage()
	warm := drive(ctx, client, url, body, onSend, o, o.warmup, false)
	cpu0, _ := svc.usage()
	r := drive(ctx, client, url, body, onSend, o, o.duration, true)
	cpu1, rss := svc.usage()
	r.mode, r.cpu, r.peakRSS = mode, cpu1-cpu0, rss
	r.totalOK = warm.ok + r.ok
	r.targetRate, r.concurrency = o.rate, o.concurrency
	r.retries += warm.retries
	r.gaveUp += warm.gaveUp
	if e2e != nil {
		r.e2e = e2e.finish(ctx, o.e2eWait)
		// Everything the webhooks cost, the enrichment after the load included.
		var cpuEnd time.Duration
		cpuEnd, r.peakRSS = svc.usage()
		r.e2e.cpu, r.e2e.webhooks = cpuEnd-cpuStart, warm.ok+r.ok
		r.e2e.rssNow = svc.rssNow()
		r.e2e.retained = retainedState(ctx, e2e.broker.JS)
	}

	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: svc.natsURL, Name: "loadgen"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return r, err
	}
	defer b.Close()
	// Webhooks, not messages: a group commit stores several in one message.
	stored, err := natsstore.CountWebhooks(ctx, b.JS, natsstore.StreamsConfig{}.WebhookStreamConfig().Name)
	if err != nil {
		return r, err
	}
	r.stored = int64(stored)
	return r, nil
}

// drive sends webhooks for d (bounded also by -max-requests). In closed loop each
// of o.concurrency workers sends its next request when the last one is answered;
// at a fixed rate a pacer schedules sends and latency counts from the scheduled
// time, so a slow server cannot hide its queueing (coordinated omission).
//
// A non-2xx answer or a transport error is answered like Maventa answers it: the
// same body is sent again after -retry-delay (a shorter Retry-After wins), at
// most -retries times; latency counts until the final answer.
func drive(ctx context.Context, client *http.Client, url string, body func() (int64, string), onSend func(int64), o options, d time.Duration, measure bool) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	jobs := make(chan time.Time, 65536)
	if o.rate > 0 {
		go pace(ctx, jobs, o.rate)
	}
	var mu sync.Mutex
	total := result{statuses: map[int]int64{}, hist: hdr.New(1, 60_000_000, 3)}
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := result{statuses: map[int]int64{}, hist: hdr.New(1, 60_000_000, 3)}
			for {
				var scheduled time.Time
				if o.rate > 0 {
					select {
					case scheduled = <-jobs:
					case <-ctx.Done():
					}
				} else {
					scheduled = time.Now()
				}
				if ctx.Err() != nil || sent.Add(1) > o.maxRequests {
					break
				}
				idx, b := body()
				if onSend != nil {
					onSend(idx)
				}
				for attempt := 0; ; attempt++ {
					resp, err := client.Post(url, "application/json", strings.NewReader(b))
					local.requests++
					delay := o.retryDelay
					if err != nil {
						local.errors++
					} else {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						local.statuses[resp.StatusCode]++
						if resp.StatusCode/100 == 2 {
							local.ok++
							break
						}
						if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && time.Duration(ra)*time.Second < delay {
							delay = time.Duration(ra) * time.Second
						}
					}
					if attempt >= o.retries || ctx.Err() != nil && attempt > 0 {
						local.gaveUp++
						break
					}
					local.retries++
					t := time.NewTimer(delay)
					<-t.C
				}
				_ = local.hist.RecordValue(time.Since(scheduled).Microseconds())
			}
			mu.Lock()
			total.requests += local.requests
			total.ok += local.ok
			total.errors += local.errors
			total.retries += local.retries
			total.gaveUp += local.gaveUp
			for k, v := range local.statuses {
				total.statuses[k] += v
			}
			total.hist.Merge(local.hist)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

// pace emits one scheduled send time per 1/rate seconds, in batches each
// millisecond, until ctx ends.
func pace(ctx context.Context, jobs chan<- time.Time, rate int) {
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for !next.After(now) {
				select {
				case jobs <- next:
				case <-ctx.Done():
					return
				}
				next = next.Add(interval)
			}
		}
	}
}
