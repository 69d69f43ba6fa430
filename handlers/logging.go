package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/trace"
)

// requestInfo collects fields that handlers learn (event name, company) so the
// single access-log line can carry them.
type requestInfo struct {
	mu    sync.Mutex
	attrs []any
}

func (i *requestInfo) set(k string, v any) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.attrs = append(i.attrs, k, v)
	i.mu.Unlock()
}

type infoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// accessLog logs one line per request. It logs the path only: the query string
// (?secret=) and the Authorization header carry the webhook secret and are never
// logged. Successful requests log at debug so that a busy receiver does not spend
// its time writing logs; client errors at info, our failures at error.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{}
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelDebug
			switch {
			case status >= 500:
				level = slog.LevelError
			case status >= 400:
				level = slog.LevelInfo
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			attrs := append([]any{
				"method", r.Method,
				"path", r.URL.Path,
				"status", status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
				"remote", r.RemoteAddr,
				"bytes_in", r.ContentLength,
			}, info.attrs...)
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
				attrs = append(attrs, "trace_id", sc.TraceID().String())
			}
			log.Log(r.Context(), level, "http request", attrs...)
		})
	}
}
