package handlers

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel/store"
)

// consumerCache lets the consumer API answer without a Redis round trip in
// the common case: the environment list, each chain's revision and the
// rendered bodies are kept in memory. Change events (from every Keel
// process, through Redis pub/sub) invalidate them at once; the short
// lifetime bounds staleness if an event is lost.
type consumerCache struct {
	ttl time.Duration

	mu     sync.Mutex
	envs   []store.Environment
	envsAt time.Time
	revs   map[string]cachedRev  // chain key → revision
	bodies map[string]cachedBody // etag → rendered body
}

type cachedRev struct {
	rev store.Revision
	at  time.Time
}

// maxCachedBodies bounds the body cache; past it, the cache starts over.
const maxCachedBodies = 256

func newConsumerCache(ttl time.Duration) *consumerCache {
	return &consumerCache{ttl: ttl, revs: map[string]cachedRev{}, bodies: map[string]cachedBody{}}
}

func (cc *consumerCache) environments(ctx context.Context, st *store.Store) ([]store.Environment, error) {
	cc.mu.Lock()
	if cc.envs != nil && time.Since(cc.envsAt) < cc.ttl {
		envs := cc.envs
		cc.mu.Unlock()
		return envs, nil
	}
	cc.mu.Unlock()
	envs, err := st.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	cc.envs, cc.envsAt = envs, time.Now()
	cc.mu.Unlock()
	return envs, nil
}

func chainKey(chain []string) string { return strings.Join(chain, ",") }

func (cc *consumerCache) revision(ctx context.Context, st *store.Store, chain []string) (store.Revision, error) {
	k := chainKey(chain)
	cc.mu.Lock()
	if r, ok := cc.revs[k]; ok && time.Since(r.at) < cc.ttl {
		cc.mu.Unlock()
		return r.rev, nil
	}
	cc.mu.Unlock()
	at := time.Now()
	rev, err := st.ConfigRevision(ctx, chain)
	if err != nil {
		return "", err
	}
	cc.mu.Lock()
	cc.revs[k] = cachedRev{rev: rev, at: at}
	cc.mu.Unlock()
	return rev, nil
}

func (cc *consumerCache) body(etag string) (cachedBody, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	b, ok := cc.bodies[etag]
	return b, ok
}

func (cc *consumerCache) putBody(etag string, b cachedBody) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.bodies) >= maxCachedBodies {
		clear(cc.bodies)
	}
	cc.bodies[etag] = b
}

// configChanged forgets every revision whose chain holds env.
func (cc *consumerCache) configChanged(env string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for k := range cc.revs {
		for _, e := range strings.Split(k, ",") {
			if e == env {
				delete(cc.revs, k)
				break
			}
		}
	}
}

// environmentsChanged forgets the environment list and every revision (a
// parent may have changed).
func (cc *consumerCache) environmentsChanged() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.envs = nil
	clear(cc.revs)
}

// envChain resolves env and its ancestors, nearest first.
func envChain(envs []store.Environment, name string) ([]string, store.Environment, bool) {
	byName := make(map[string]store.Environment, len(envs))
	for _, e := range envs {
		byName[e.Name] = e
	}
	env, ok := byName[name]
	if !ok {
		return nil, store.Environment{}, false
	}
	chain := []string{env.Name}
	for p := env.Parent; p != "" && len(chain) <= len(envs); {
		pe, ok := byName[p]
		if !ok {
			break
		}
		chain = append(chain, pe.Name)
		p = pe.Parent
	}
	return chain, env, true
}

// pageCache keeps recently read config pages, keyed by revision and query.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]configPage
}

const maxCachedPages = 512

func (pc *pageCache) get(key string) (configPage, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p, ok := pc.pages[key]
	return p, ok
}

func (pc *pageCache) put(key string, p configPage) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.pages == nil || len(pc.pages) >= maxCachedPages {
		pc.pages = map[string]configPage{}
	}
	pc.pages[key] = p
}
