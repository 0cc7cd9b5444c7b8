package store

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Instance settings are one hash in the {settings} group.

const (
	minAuditMaxEntries = 1000
	maxAuditMaxAgeDays = 36500
)

func settingsFields(x Settings) []any {
	return []any{
		"audit_max_entries", x.AuditMaxEntries,
		"audit_max_age_days", x.AuditMaxAgeDays,
		"version", x.Version,
	}
}

func settingsFromHash(h map[string]string) Settings {
	days, _ := strconv.Atoi(h["audit_max_age_days"])
	return Settings{
		AuditMaxEntries: intField(h["audit_max_entries"]),
		AuditMaxAgeDays: days,
		Version:         intField(h["version"]),
	}
}

// ValidateSettings checks settings: the audit cap is 0 (none) or at least
// 1000 entries; the age limit is 0 (none) to 36500 days.
func ValidateSettings(x Settings) error {
	v := &ValidationError{}
	if x.AuditMaxEntries != 0 && x.AuditMaxEntries < minAuditMaxEntries {
		v.Add("audit_max_entries", "must be 0 (no cap) or at least 1000")
	}
	if x.AuditMaxAgeDays < 0 || x.AuditMaxAgeDays > maxAuditMaxAgeDays {
		v.Add("audit_max_age_days", "must be between 0 (keep forever) and 36500")
	}
	return v.OrNil()
}

func (s *Store) readSettings(ctx context.Context, c redis.Cmdable) (Settings, error) {
	h, err := c.HGetAll(ctx, s.settingsKey()).Result()
	if err != nil {
		return Settings{}, wrap(err)
	}
	if len(h) == 0 {
		return DefaultSettings, nil
	}
	return settingsFromHash(h), nil
}

// GetSettings returns the instance settings (DefaultSettings, Version 0,
// until they are first saved).
func (s *Store) GetSettings(ctx context.Context) (Settings, error) {
	return s.readSettings(ctx, s.rdb)
}

// UpdateSettings stores next. version is the Version the caller edited (0:
// do not check); if the settings changed since, it returns a ConflictError.
func (s *Store) UpdateSettings(ctx context.Context, a Actor, version int64, next Settings) (Settings, error) {
	if err := ValidateSettings(next); err != nil {
		return Settings{}, err
	}
	key := s.settingsKey()
	var out Settings
	committed := false
	err := s.change(ctx, tagSettings, []string{key}, func(tx *redis.Tx) error {
		committed = false
		cur, err := s.readSettings(ctx, tx)
		if err != nil {
			return err
		}
		if version != 0 && cur.Version != version {
			return Conflictf("settings were changed by someone else; reload and try again")
		}
		next.Version = cur.Version
		if next == cur && cur.Version > 0 {
			out = cur
			return nil
		}
		next.Version = cur.Version + 1
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, key, settingsFields(next)...)
			s.appendAudit(pipe, tagSettings, a, "settings.update", "settings", "", cur, next)
			return nil
		})
		if err == nil {
			out, committed = next, true
		}
		return err
	})
	if err != nil {
		return Settings{}, err
	}
	if committed {
		s.changed(ctx, "settings", "settings.update", "settings", "", a)
	}
	return out, nil
}
