package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// Messaging (Amili Kassavirta and Perintä). Field names of threads and messages are
// ASSUMED (not published): thread {id, assignment_id, flagged, latest_message,
// created_at, updated_at}; message {id, thread_id, assignment_id, message, sender,
// seen_at, created_at}; POST bodies {"message": "text"}; PATCH {"flagged": bool}.

// AddAgencyMessage adds a message from the agency to the assignment's thread
// (creating the thread when needed).
func (s *Sandbox) AddAgencyMessage(assignmentID, text string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.assignments[assignmentID]
	if !ok {
		return Message{}, fmt.Errorf("assignment %s: %w", assignmentID, ErrNotFound)
	}
	m, err := s.addMessageLocked(a.companyID, s.threadForLocked(a), text, "agency")
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

func (s *Sandbox) threadForLocked(a *Assignment) *Thread {
	for _, t := range s.st.threads {
		if t.AssignmentID == a.ID {
			return t
		}
	}
	now := s.now()
	t := &Thread{ID: s.newIDLocked(), AssignmentID: a.ID, CreatedAt: now, UpdatedAt: now, companyID: a.companyID, seq: s.st.nextSeq()}
	s.st.threads[t.ID] = t
	return t
}

func (s *Sandbox) addMessageLocked(company string, t *Thread, text, sender string) (*Message, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("message is required: %w", ErrInvalid)
	}
	now := s.now()
	m := &Message{ID: s.newIDLocked(), ThreadID: t.ID, AssignmentID: t.AssignmentID, Message: text,
		Sender: sender, CreatedAt: now, companyID: company, seq: s.st.nextSeq()}
	s.st.messages[m.ID] = m
	t.LatestMessage = m
	t.UpdatedAt = now
	return m, nil
}

func threadView(t *Thread) *Thread {
	c := *t
	if t.LatestMessage != nil {
		m := *t.LatestMessage
		c.LatestMessage = &m
	}
	return &c
}

func (s *Sandbox) ownedThreadLocked(w http.ResponseWriter, r *http.Request) *Thread {
	t, ok := s.st.threads[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "message thread not found")
		return nil
	}
	if !s.actsForLocked(r.Context(), t.companyID) {
		writeError(w, http.StatusForbidden, "forbidden", "message thread belongs to another company")
		return nil
	}
	return t
}

func (s *Sandbox) handleListThreads(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Thread
	for _, t := range s.st.threads {
		if s.actsForLocked(r.Context(), t.companyID) {
			list = append(list, threadView(t))
		}
	}
	newestFirst(list, func(t *Thread) time.Time { return t.CreatedAt }, func(t *Thread) int64 { return t.seq })
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Sandbox) handleGetThread(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.ownedThreadLocked(w, r); t != nil {
		writeJSON(w, http.StatusOK, threadView(t))
	}
}

func (s *Sandbox) handlePatchThread(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Flagged *bool `json:"flagged"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ownedThreadLocked(w, r)
	if t == nil {
		return
	}
	if req.Flagged == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "flagged is required", "flagged")
		return
	}
	t.Flagged = *req.Flagged
	t.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, threadView(t))
}

func (s *Sandbox) messagesLocked(pred func(*Message) bool) []*Message {
	var list []*Message
	for _, m := range s.st.messages {
		if pred(m) {
			c := *m
			list = append(list, &c)
		}
	}
	newestFirst(list, func(m *Message) time.Time { return m.CreatedAt }, func(m *Message) int64 { return m.seq })
	return list
}

func (s *Sandbox) handleThreadMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ownedThreadLocked(w, r)
	if t == nil {
		return
	}
	if page, ok := paginate(w, r, s.messagesLocked(func(m *Message) bool { return m.ThreadID == t.ID })); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Sandbox) handlePostThreadMessage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message string `json:"message"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ownedThreadLocked(w, r)
	if t == nil {
		return
	}
	m, err := s.addMessageLocked(t.companyID, t, req.Message, "company")
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

func (s *Sandbox) handleAssignmentMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ownedAssignmentLocked(w, r)
	if a == nil {
		return
	}
	if page, ok := paginate(w, r, s.messagesLocked(func(m *Message) bool { return m.AssignmentID == a.ID })); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Sandbox) handlePostAssignmentMessage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message string `json:"message"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ownedAssignmentLocked(w, r)
	if a == nil {
		return
	}
	m, err := s.addMessageLocked(a.companyID, s.threadForLocked(a), req.Message, "company")
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

func (s *Sandbox) handleMessageSeen(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.st.messages[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "message not found")
		return
	}
	if !s.actsForLocked(r.Context(), m.companyID) {
		writeError(w, http.StatusForbidden, "forbidden", "message belongs to another company")
		return
	}
	if m.SeenAt == nil {
		now := s.now()
		m.SeenAt = &now
	}
	c := *m
	writeJSON(w, http.StatusOK, &c)
}
