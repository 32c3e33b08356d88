package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/nonrep/nonrep/internal/config"
	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/keys"
	"github.com/nonrep/nonrep/keys/jwkscache"
)

// partnerKeys resolves partners' keys: inline files, and JWKS URLs through
// the cache (shared over Redis when the replay store is Redis).
type partnerKeys struct {
	cache *jwkscache.Cache
	extra []*jwkscache.Cache // partners with a private CA
}

func newPartnerKeys(cfg *config.Config, rc *redis.Client, log *slog.Logger, audit func(context.Context, keys.Event) error) (*partnerKeys, error) {
	need := false
	for _, p := range cfg.Partners {
		need = need || p.JWKSURL != ""
	}
	if !need {
		return &partnerKeys{}, nil
	}
	jc := jwkscache.Config{Logger: log, Audit: audit}
	if rc != nil {
		jc.Shared = jwkscache.NewRedis(rc, "")
	}
	// One private CA per partner is allowed: partners with jwks_ca get a
	// cache of their own client; the common case shares the default.
	c, err := jwkscache.New(jc)
	if err != nil {
		return nil, err
	}
	return &partnerKeys{cache: c}, nil
}

// resolver returns the partner's key resolver: the cache for a JWKS URL
// (with the inline keys served beside it), or a fixed KeySet.
func (pk *partnerKeys) resolver(p config.Partner, inline []*jose.JWK) (jose.KeyResolver, error) {
	if p.JWKSURL == "" {
		return jose.NewKeySet(inline...)
	}
	src := jwkscache.Source{Partner: p.Name, URL: p.JWKSURL, Keys: inline}
	if p.JWKSCA == "" {
		return pk.cache.Add(src)
	}
	data, err := os.ReadFile(p.JWKSCA)
	if err != nil {
		return nil, err
	}
	pool, err := rootsFromPEM(data)
	if err != nil {
		return nil, fmt.Errorf("jwks_ca: %w", err)
	}
	client := jwkscache.DefaultClient()
	tr := client.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client.Transport = tr
	own, err := jwkscache.New(jwkscache.Config{Client: client})
	if err != nil {
		return nil, err
	}
	pk.extra = append(pk.extra, own)
	return own.Add(src)
}

// run refreshes in the background until ctx is done, and keeps the
// revocation list from the registry current (every 10 s): a revocation
// made on any instance wins over every cache within that time.
func (pk *partnerKeys) run(ctx context.Context, reg *keys.Registry, log *slog.Logger) {
	for _, c := range pk.all() {
		go c.Run(ctx)
	}
	if reg == nil || len(pk.all()) == 0 {
		return
	}
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			if list, err := reg.Revocations(ctx); err == nil {
				for _, c := range pk.all() {
					c.SetRevocations(list)
				}
			} else if ctx.Err() == nil {
				log.Warn("revocation list not refreshed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (pk *partnerKeys) all() []*jwkscache.Cache {
	var out []*jwkscache.Cache
	if pk.cache != nil {
		out = append(out, pk.cache)
	}
	return append(out, pk.extra...)
}

// collector exposes each partner's JWKS cache age and state.
func (pk *partnerKeys) collector() prometheus.Collector {
	return &cacheCollector{pk: pk,
		age:  prometheus.NewDesc("nonrep_jwks_cache_age_seconds", "Time since the partner's JWKS endpoint last answered.", []string{"partner", "bucket"}, nil),
		keys: prometheus.NewDesc("nonrep_jwks_cache_keys", "Fetched keys served per partner (revoked excluded).", []string{"partner"}, nil),
		fail: prometheus.NewDesc("nonrep_jwks_cache_failures", "Consecutive failed fetches per partner.", []string{"partner"}, nil),
	}
}

type cacheCollector struct {
	pk              *partnerKeys
	age, keys, fail *prometheus.Desc
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.age
	ch <- c.keys
	ch <- c.fail
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cache := range c.pk.all() {
		for _, s := range cache.Statuses() {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.Age.Seconds(), s.Partner, string(s.Bucket))
			ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(s.Keys), s.Partner)
			ch <- prometheus.MustNewConstMetric(c.fail, prometheus.GaugeValue, float64(s.Failures), s.Partner)
		}
	}
}
