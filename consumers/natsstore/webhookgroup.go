package natsstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// WebhookGroupSubject is where a group of two or more webhooks is stored as
// one message (group commit, see WebhookStore.Store). It has three tokens,
// and every single webhook's subject has at least four
// (maventa.webhooks.<company>.<event...>, an empty token being "%"), so no
// company id can clash with it.
const WebhookGroupSubject = WebhookSubjectRoot + "._batch"

// HeaderGroupCount is the only header of a group message besides JetStream's
// own: how many webhooks it holds, so that a reader can count webhooks
// without reading bodies (CountWebhooks).
const HeaderGroupCount = "Maventa-Group-Count"

// groupMagic starts every group body: "MWG" and the format version (1).
// docs/design.md ("Stored webhook groups") describes the format.
var groupMagic = [4]byte{'M', 'W', 'G', 1}

// ErrBadGroup is a group message whose body is not a valid group: nothing in
// it can be trusted, so the consumer dead-letters the message whole.
var ErrBadGroup = errors.New("invalid webhook group")

// Grouping limits. A group stays far below NATS's default max_payload (1 MiB)
// and the stream's MaxMsgSize (2 MiB by default), so that one oversized webhook
// cannot make its neighbours' message refused.
const (
	maxGroupWebhooks = 256
	maxGroupBytes    = 256 << 10
	// maxGroupMember is the largest webhook (body and headers, framed) put in a
	// group; a larger one is stored alone, in the single-webhook format, and
	// its refusal (if any) is its own, classified as before.
	maxGroupMember = 64 << 10
)

// StoredWebhook is one webhook as stored: the subject, headers and body it
// has, or would have, as a message of its own.
type StoredWebhook struct {
	Subject string
	Header  nats.Header
	Data    []byte
}

// groupEntrySize is the framed size of one webhook: its headers and body, each
// with a length prefix of at most binary.MaxVarintLen32 bytes.
func groupEntrySize(h nats.Header, body []byte) int {
	n := 2*binary.MaxVarintLen32 + len(body)
	for k, vs := range h {
		n += len(vs) * (len(k) + 2*binary.MaxVarintLen32)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// appendGroup frames msgs (whose subjects are not stored: they follow from the
// Maventa-Company-Id and Maventa-Event headers) as one group body:
//
//	group  = "MWG" 0x01 uvarint(count) count*entry
//	entry  = uvarint(fields) fields*(string key, string value) string body
//	string = uvarint(length) bytes
//
// A header with several values is several fields with the same key.
func appendGroup(b []byte, msgs []*nats.Msg) []byte {
	b = append(b, groupMagic[:]...)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		fields := 0
		for _, vs := range m.Header {
			fields += len(vs)
		}
		b = binary.AppendUvarint(b, uint64(fields))
		for k, vs := range m.Header {
			for _, v := range vs {
				b = appendString(b, k)
				b = appendString(b, v)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(m.Data)))
		b = append(b, m.Data...)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeGroup expands a group body into its webhooks, in the order they were
// stored. Each body aliases data. The error wraps ErrBadGroup.
func DecodeGroup(data []byte) ([]StoredWebhook, error) {
	d := groupDecoder{b: data}
	if len(data) < len(groupMagic) || [4]byte(data[:4]) != groupMagic {
		return nil, fmt.Errorf("%w: does not start with %q (format version 1)", ErrBadGroup, groupMagic[:])
	}
	d.off = len(groupMagic)
	n := d.uvarint("count")
	// Every entry takes at least 2 bytes: a bound that keeps a corrupt count
	// from allocating much.
	if d.err == nil && n > uint64(len(data)-d.off)/2 {
		d.fail("count", fmt.Errorf("%d entries cannot fit in %d bytes", n, len(data)-d.off))
	}
	var out []StoredWebhook
	if d.err == nil {
		out = make([]StoredWebhook, 0, n)
	}
	var spans [][4]int // an entry's fields: key and value offsets in data
	for i := uint64(0); d.err == nil && i < n; i++ {
		fields := d.uvarint("header count")
		if d.err == nil && fields > uint64(len(data)-d.off)/2 {
			d.fail("header count", fmt.Errorf("%d fields cannot fit", fields))
		}
		if d.err != nil {
			break
		}
		// The entry's keys and values are substrings of one string and its
		// values' slices share one array: the consumer reads every webhook
		// through here, and a string and a slice per field made 25
		// allocations per webhook of a group.
		start := d.off
		spans = spans[:0]
		for j := uint64(0); d.err == nil && j < fields; j++ {
			kl, kh := d.span("header key")
			vl, vh := d.span("header value")
			spans = append(spans, [4]int{kl, kh, vl, vh})
		}
		var h nats.Header
		if d.err == nil {
			all := string(data[start:d.off])
			field := func(lo, hi int) string { return all[lo-start : hi-start] }
			vals := make([]string, len(spans))
			h = make(nats.Header, len(spans))
			for j, sp := range spans {
				k := field(sp[0], sp[1])
				vals[j] = field(sp[2], sp[3])
				if prev, ok := h[k]; ok {
					h[k] = append(prev, vals[j]) // a repeated key: prev's capacity is its length, so this copies
				} else {
					h[k] = vals[j : j+1 : j+1]
				}
			}
		}
		body := d.bytes("body")
		if d.err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadGroup, i, d.err)
		}
		out = append(out, StoredWebhook{Subject: WebhookSubject(h.Get(HeaderCompanyID), h.Get(HeaderEvent)), Header: h, Data: body})
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGroup, d.err)
	}
	if d.off != len(data) {
		return nil, fmt.Errorf("%w: %d bytes after the last of %d entries", ErrBadGroup, len(data)-d.off, n)
	}
	return out, nil
}

type groupDecoder struct {
	b   []byte
	off int
	err error
}

func (d *groupDecoder) fail(what string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %w", what, d.off, err)
	}
}

func (d *groupDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(what, errors.New("truncated or overlong length"))
		return 0
	}
	d.off += n
	return v
}

func (d *groupDecoder) bytes(what string) []byte {
	lo, hi := d.span(what)
	if d.err != nil {
		return nil
	}
	return d.b[lo:hi:hi]
}

// span reads a length-prefixed string and returns where its bytes are.
func (d *groupDecoder) span(what string) (lo, hi int) {
	n := d.uvarint(what)
	if d.err != nil {
		return 0, 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(what, fmt.Errorf("length %d beyond the end", n))
		return 0, 0
	}
	lo = d.off
	d.off += int(n)
	return lo, d.off
}

// ExpandStored returns the webhooks one stored message holds: itself when it
// is a single webhook, its members when it is a group.
func ExpandStored(subject string, h nats.Header, data []byte) ([]StoredWebhook, error) {
	if subject != WebhookGroupSubject {
		return []StoredWebhook{{Subject: subject, Header: h, Data: data}}, nil
	}
	return DecodeGroup(data)
}

// groupCount is the count header of a group message; 1 for any other message,
// 0 when a group's header is missing or not a positive number.
func groupCount(subject string, h nats.Header) int {
	if subject != WebhookGroupSubject {
		return 1
	}
	n, err := strconv.Atoi(h.Get(HeaderGroupCount))
	if err != nil || n < 1 {
		return 0
	}
	return n
}
