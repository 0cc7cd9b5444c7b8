package store

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// infoFields are the INFO fields the System page shows, by their INFO name.
var infoFields = []string{"redis_version", "redis_mode", "used_memory_human", "connected_clients", "aof_enabled", "uptime_in_seconds"}

// Info returns a few facts about the Redis server for the System page:
// redis_version, mode (standalone, cluster or sentinel), used_memory_human,
// connected_clients, aof_enabled and uptime_in_seconds. On Cluster they come
// from one master.
func (s *Store) Info(ctx context.Context) (map[string]string, error) {
	var c redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, s.auditShardsKey())
		if err != nil {
			return nil, wrap(err)
		}
		c = node
	}
	raw, err := c.Info(ctx, "server", "memory", "clients", "persistence").Result()
	if err != nil {
		return nil, wrap(err)
	}
	all := map[string]string{}
	for line := range strings.SplitSeq(raw, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			all[k] = v
		}
	}
	out := make(map[string]string, len(infoFields))
	for _, f := range infoFields {
		if v, ok := all[f]; ok {
			if f == "redis_mode" {
				f = "mode"
			}
			out[f] = v
		}
	}
	return out, nil
}
