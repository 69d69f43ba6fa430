package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/trace"
)

// requestInfo collects fields that handlers learn (event name, company) so the
// single access-log line can carry them.
// Attributes are slog.Attr, not key-value pairs of any: a string or bool in an
// Attr is not boxed, so recording them costs no allocation on the common path
// where the line is never written (successful requests log at debug).
type requestInfo struct {
	mu    sync.Mutex
	attrs []slog.Attr
	buf   [4]slog.Attr // room for what the webhook handler adds
}

func (i *requestInfo) add(a slog.Attr) {
	if i == nil {
		return
	}
	i.mu.Lock()
	if i.attrs == nil {
		i.attrs = i.buf[:0]
	}
	i.attrs = append(i.attrs, a)
	i.mu.Unlock()
}

type infoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// requestState is what the edge keeps per request, allocated once by
// serverTelemetry: the access log's fields and chi's route context. Both are
// reached through edgeContext.Value, so a webhook costs one allocation here
// instead of two context.WithValue, a route context, a second response
// wrapper and a second copy of the request (profile in docs/performance.md).
type requestState struct {
	info  requestInfo
	route chi.Context
}

// edgeContext serves requestState's parts under the keys their readers use
// (chi.RouteCtxKey, infoKey) and everything else from the parent.
type edgeContext struct {
	context.Context
	st *requestState
}

func (c edgeContext) Value(key any) any {
	switch key {
	case chi.RouteCtxKey:
		return &c.st.route
	case infoKey{}:
		return &c.st.info
	}
	return c.Context.Value(key)
}

// accessLog logs one line per request. It logs the path only: the query string
// (?secret=) and the Authorization header carry the webhook secret and are never
// logged. Successful requests log at debug so that a busy receiver does not spend
// its time writing logs; client errors at info, our failures at error.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			// Behind serverTelemetry (every route but the health checks) the
			// request already carries its info and a status-recording writer.
			info := requestInfoFrom(r.Context())
			if info == nil {
				info = &requestInfo{}
				r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
			}
			ww, ok := w.(middleware.WrapResponseWriter)
			if !ok {
				ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			}
			next.ServeHTTP(ww, r)
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
			attrs := append([]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote", r.RemoteAddr),
				slog.Int64("bytes_in", r.ContentLength),
			}, info.attrs...)
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
				attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
			}
			log.LogAttrs(r.Context(), level, "http request", attrs...)
		})
	}
}
