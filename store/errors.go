package store

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Handlers map these to HTTP status codes in one place
// (handlers/errors.go); callers test them with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change collides with the current state (it already
	// exists, or it was changed since the version the caller edited).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule; see *ValidationError for details.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: Redis could not be reached.
	ErrUnavailable = errors.New("store unavailable")
)

// ValidationError carries one message per offending field. It matches
// ErrInvalid under errors.Is.
type ValidationError struct {
	Fields map[string]string
}

// Invalid builds a ValidationError from field/message pairs.
func Invalid(fieldAndMessage ...string) *ValidationError {
	v := &ValidationError{Fields: map[string]string{}}
	for i := 0; i+1 < len(fieldAndMessage); i += 2 {
		v.Fields[fieldAndMessage[i]] = fieldAndMessage[i+1]
	}
	return v
}

// Add records a message for a field (the first message per field wins).
func (v *ValidationError) Add(field, msg string) {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.Fields[field] = msg
	}
}

// OrNil returns v when it holds at least one message, else nil.
func (v *ValidationError) OrNil() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *ValidationError) Error() string {
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+v.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (v *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ConflictError explains a conflict to the user. It matches ErrConflict.
type ConflictError struct {
	Message string
}

// Conflictf builds a ConflictError.
func Conflictf(format string, args ...any) *ConflictError {
	return &ConflictError{Message: fmt.Sprintf(format, args...)}
}

func (c *ConflictError) Error() string { return c.Message }

// Is makes errors.Is(err, ErrConflict) true.
func (c *ConflictError) Is(target error) bool { return target == ErrConflict }
