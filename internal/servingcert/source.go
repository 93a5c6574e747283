/*
Copyright 2026 The azure-authenticator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package servingcert provides the authenticator's TLS certificate when no
// certificate files are given, kept in a Secret so every replica serves the
// same one.
//
// The Secret holds a private CA and a short-lived serving certificate (the
// leaf) it signed. Clients trust the CA (ca.crt), which survives leaf
// renewals. The CA is confined by critical X.509 name constraints to exactly
// the configured names, and may not sign further CAs, so its key (which the
// Secret must hold, for every replica to renew the leaf) cannot mint a
// certificate that those clients accept for any other host:
//
//   - DNS: permitted only the configured DNS names (RFC 5280: this also
//     permits their subdomains); with none configured, only the reserved
//     domain "invalid" (RFC 6761), which never resolves.
//   - IP: permitted only each configured address as a /32 or /128; an
//     address family with no configured address is excluded entirely
//     (0.0.0.0/0, ::/0).
//   - e-mail and URI names: permitted only under "invalid", i.e. none.
//   - path length 0 (no sub-CAs) and extended key usage serverAuth only.
//
// A whole-type exclusion by an empty name is avoided on purpose: RFC 5280
// leaves its meaning unspecified and some verifiers reject it.
//
// The leaf is renewed silently before expiry, from the same CA. The CA is
// replaced, and clients must fetch the new ca.crt, only when the configured
// names change, when the CA nears its own expiry, or when the Secret holds
// anything else (including the unconstrained self-signed certificate older
// versions stored).
//
// During a rollout that changes the names, replicas with the old and the
// new names run side by side and must not take the Secret from each other
// in a loop. The Secret records a digest of the names it was written for,
// when the writer's claim began (its start) and when a replica with those
// names last renewed the claim (every RenewEvery). A replica whose names
// differ serves what a newer, live claim wrote instead of replacing it: the
// newest configuration wins, once. A claim nobody has renewed for
// ClaimExpiry (its replicas are gone, e.g. an old replica that restarted
// after the new ones and was then removed) is taken over.
//
// It imports only internal/namedsecret; never the controllers, the HTTP
// side or the assembly.
package servingcert

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/azure-authenticator/azure-authenticator/internal/namedsecret"
)

// Keys of the Secret besides tls.crt (leaf then CA) and tls.key (the leaf's
// key).
const (
	// CACertKey holds the CA certificate: what clients trust.
	CACertKey = "ca.crt"
	// CAKeyKey holds the CA's private key.
	CAKeyKey = "ca.key"
)

// Annotations of the Secret recording whose names it holds.
const (
	// NamesAnnotation is a digest of the names the Secret was written for.
	NamesAnnotation = "authn.dap.io/serving-names-sha256"
	// ClaimedAnnotation is when the writer's claim on those names began
	// (RFC 3339): the newest claim wins.
	ClaimedAnnotation = "authn.dap.io/serving-names-claimed"
	// RenewedAnnotation is when a replica with those names last confirmed
	// it is alive (RFC 3339).
	RenewedAnnotation = "authn.dap.io/serving-names-renewed"
)

// Defaults of the Source tunables.
const (
	defaultCAValidity      = 10 * 365 * 24 * time.Hour
	defaultCARenewBefore   = 90 * 24 * time.Hour
	defaultLeafValidity    = 90 * 24 * time.Hour
	defaultLeafRenewBefore = 30 * 24 * time.Hour
	defaultEvery           = time.Minute
	defaultRenewEvery      = 5 * time.Minute
	defaultClaimExpiry     = 15 * time.Minute
)

const (
	// maxAttempts bounds write attempts per Sync when other replicas keep
	// winning the race.
	maxAttempts = 3
	// backdate allows for clock skew between replicas and clients.
	backdate = time.Hour
	// reservedDomain (RFC 6761) confines a name type that is not
	// configured: no real name lies under it.
	reservedDomain = "invalid"
)

// Source keeps the serving certificate and its CA in a Secret.
type Source struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// CAConfigMap, if set, names a ConfigMap in Namespace into which the
	// CA served is published (key ca.crt) for clients: reading it needs no
	// access to the Secret, which holds the private keys.
	CAConfigMap string
	// SANs are the DNS names and IP addresses to serve; the CA is confined
	// to exactly these. At least one is required.
	SANs []string
	// CAValidity [10 years] and CARenewBefore [90 days] govern replacing
	// the CA (clients must then fetch the new ca.crt).
	CAValidity    time.Duration
	CARenewBefore time.Duration
	// LeafValidity [90 days] and LeafRenewBefore [30 days] govern the
	// silent renewal of the served certificate.
	LeafValidity    time.Duration
	LeafRenewBefore time.Duration
	// Every is how often Start checks what time alone makes due: a leaf
	// or CA near expiry, a claim to renew or one no longer renewed [1m].
	// Changes of the Secret it sees as they happen, through a watch.
	Every time.Duration
	// RenewEvery [5m] is how often replicas renew their claim on the
	// Secret's names; ClaimExpiry [15m] is when an unrenewed claim for
	// other names may be taken over.
	RenewEvery  time.Duration
	ClaimExpiry time.Duration
	// Claimed is when this replica's claim on its names began [the first
	// Sync]: set it to the process start.
	Claimed time.Time
	// Clock tells the time and paces Start [the real clock].
	Clock clock.Clock
	Log   logr.Logger

	once  sync.Once
	state atomic.Pointer[state]

	mu        sync.Mutex // serialises Sync; guards deferring
	deferring bool       // serving a newer claim's names
}

// state is what is served, swapped as a whole.
type state struct {
	cert  *tls.Certificate // chain [leaf, CA]
	caPEM []byte
	crt   []byte // tls.crt as stored, to notice changes
}

// defaults fills unset tunables once: Start and Sync may run concurrently
// (the getters read no tunable).
func (s *Source) defaults() { s.once.Do(s.setDefaults) }

func (s *Source) setDefaults() {
	s.CAValidity = cmp.Or(s.CAValidity, defaultCAValidity)
	s.CARenewBefore = cmp.Or(s.CARenewBefore, defaultCARenewBefore)
	s.LeafValidity = cmp.Or(s.LeafValidity, defaultLeafValidity)
	s.LeafRenewBefore = cmp.Or(s.LeafRenewBefore, defaultLeafRenewBefore)
	s.Every = cmp.Or(s.Every, defaultEvery)
	s.RenewEvery = cmp.Or(s.RenewEvery, defaultRenewEvery)
	s.ClaimExpiry = cmp.Or(s.ClaimExpiry, defaultClaimExpiry)
	if s.Clock == nil {
		s.Clock = clock.RealClock{}
	}
	if s.Claimed.IsZero() {
		s.Claimed = s.Clock.Now()
	}
}

// checkTimes refuses tunables that would make certificates churn or outlive
// their issuer.
func (s *Source) checkTimes() error {
	switch {
	case s.CAValidity < 0 || s.CARenewBefore < 0 || s.LeafValidity < 0 || s.LeafRenewBefore < 0 || s.Every < 0 || s.RenewEvery < 0:
		return errors.New("serving certificate: durations must not be negative")
	case s.ClaimExpiry < 2*s.RenewEvery:
		return fmt.Errorf("serving certificate: ClaimExpiry %v must be at least twice RenewEvery %v", s.ClaimExpiry, s.RenewEvery)
	case s.LeafRenewBefore >= s.LeafValidity:
		return fmt.Errorf("serving certificate: LeafRenewBefore %v must be below LeafValidity %v", s.LeafRenewBefore, s.LeafValidity)
	case s.CARenewBefore >= s.CAValidity:
		return fmt.Errorf("serving certificate: CARenewBefore %v must be below CAValidity %v", s.CARenewBefore, s.CAValidity)
	case s.CARenewBefore < s.LeafRenewBefore:
		return fmt.Errorf("serving certificate: CARenewBefore %v must not be below LeafRenewBefore %v", s.CARenewBefore, s.LeafRenewBefore)
	case s.LeafValidity > s.CAValidity-s.CARenewBefore:
		return fmt.Errorf("serving certificate: LeafValidity %v exceeds the CA's usable life %v", s.LeafValidity, s.CAValidity-s.CARenewBefore)
	}
	return nil
}

// NeedLeaderElection is false: every replica serves.
func (s *Source) NeedLeaderElection() bool { return false }

// GetCertificate is for tls.Config: the chain [leaf, CA].
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := s.state.Load()
	if st == nil {
		return nil, errors.New("serving certificate not loaded yet")
	}
	return st.cert, nil
}

// Loaded reports whether a certificate is available.
func (s *Source) Loaded() bool { return s.state.Load() != nil }

// CAPEM is the CA certificate clients must trust (ca.crt of the Secret).
func (s *Source) CAPEM() []byte {
	if st := s.state.Load(); st != nil {
		return slices.Clone(st.caPEM)
	}
	return nil
}

// CertificatePEM is what clients must trust: the CA certificate, as CAPEM.
// (It is not the served leaf, which changes at every renewal.)
func (s *Source) CertificatePEM() []byte { return s.CAPEM() }

// Start syncs now, then follows the Secret until ctx ends: it syncs again
// whenever the Secret changes or is deleted, and every Every for what time
// alone makes due. Those later syncs start from the Secret as its watch
// last saw it: the Secret is read from the API server again only after
// another writer got there first (CAConfigMap is read at every sync).
func (s *Source) Start(ctx context.Context) error {
	s.defaults()
	if err := s.Sync(ctx); err != nil {
		return err
	}
	w, err := s.secret().Watch(ctx, nil)
	if w == nil {
		return err // nil when ctx ended first
	}
	defer w.Stop()
	t := s.Clock.NewTimer(s.Every)
	defer t.Stop()
	for {
		timed := false
		select {
		case <-ctx.Done():
			return nil
		case <-w.Changed():
		case <-t.C():
			timed = true
		}
		if err := s.syncWith(ctx, w.Change); err != nil {
			s.Log.Error(err, "Failed to check the serving certificate; keeping the current one")
		}
		if timed {
			t.Reset(s.Every) // Every after this check
		}
	}
}

// Sync reads the Secret through the API server and loads the certificate,
// renewing the leaf or replacing the CA as needed, then publishes the CA
// served to CAConfigMap. On error the current certificate is kept.
func (s *Source) Sync(ctx context.Context) error { return s.syncWith(ctx, s.secret().Change) }

// changer is namedsecret's Secret.Change or Watcher.Change.
type changer func(context.Context, int, func(*corev1.Secret) (*corev1.Secret, error)) (*corev1.Secret, error)

func (s *Source) syncWith(ctx context.Context, change changer) error {
	if err := s.sync(ctx, change); err != nil {
		return err
	}
	return s.publishCA(ctx)
}

func (s *Source) secret() namedsecret.Secret {
	return namedsecret.Secret{Client: s.Client, Namespace: s.Namespace, Name: s.Name}
}

// publishCA writes the CA served into CAConfigMap, which must exist, if it
// holds anything else. Clients get what they must trust from there, with
// no access to the Secret and its private keys.
func (s *Source) publishCA(ctx context.Context) error {
	st := s.state.Load()
	if s.CAConfigMap == "" || st == nil {
		return nil
	}
	cms := s.Client.CoreV1().ConfigMaps(s.Namespace)
	cm, err := cms.Get(ctx, s.CAConfigMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("failed to read the CA ConfigMap %s/%s (it must exist; the chart and config/ create it): %w", s.Namespace, s.CAConfigMap, err)
	}
	if cm.Data[CACertKey] == string(st.caPEM) {
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[CACertKey] = string(st.caPEM)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("failed to publish the serving CA to ConfigMap %s/%s: %w", s.Namespace, s.CAConfigMap, err)
	}
	s.Log.Info("Published the serving CA", "configMap", s.Namespace+"/"+s.CAConfigMap)
	return nil
}

func (s *Source) sync(ctx context.Context, change changer) error {
	s.defaults()
	if err := s.checkTimes(); err != nil {
		return err
	}
	n, err := parseNames(s.SANs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := n.digest()
	// What the last attempt decided, once its write (if any) stands.
	var (
		now    time.Time
		serve  *state // as read
		issued bool   // new data written: serve it if it passes the checks
	)
	sec, err := change(ctx, maxAttempts, func(sec *corev1.Secret) (*corev1.Secret, error) {
		now, serve, issued = s.Clock.Now(), nil, false
		if sec != nil && s.deferToNewerClaim(sec, digest, now) {
			return nil, nil
		}
		var ca *issuer
		if sec != nil {
			var reason string
			if ca, reason = s.checkCA(sec, n, now); ca == nil {
				s.Log.Info("Replacing the serving CA; clients must fetch the new "+CACertKey, "reason", reason)
			} else if serve, reason = s.checkLeaf(sec, ca, n, now); serve != nil {
				if !s.claimDue(sec, digest, now) {
					return nil, nil
				}
				s.recordClaim(sec, digest, now)
				return sec, nil
			} else {
				s.Log.Info("Renewing the serving certificate; the CA stays", "reason", reason)
			}
		}
		data, err := s.issue(ca, n, now)
		if err != nil {
			return nil, err
		}
		if sec == nil {
			sec = s.secret().New(corev1.SecretTypeTLS, data)
		} else {
			sec.Data = data
		}
		s.recordClaim(sec, digest, now)
		issued = true
		return sec, nil
	})
	switch {
	case errors.Is(err, namedsecret.ErrLostRace):
		return fmt.Errorf("serving-certificate Secret %s: other writers won %d times in a row", s.secret(), maxAttempts)
	case err != nil:
		return err // naming the Secret, when it is about the Secret
	case issued:
		// Serve what was written only if it passes the reader's checks.
		ca, reason := s.checkCA(sec, n, now)
		if ca == nil {
			return fmt.Errorf("the serving CA just written to %s is unusable: %s", s.secret(), reason)
		}
		if serve, reason = s.checkLeaf(sec, ca, n, now); serve == nil {
			return fmt.Errorf("the serving certificate just written to %s is unusable: %s", s.secret(), reason)
		}
	}
	if serve != nil {
		s.store(serve)
	}
	return nil
}

// deferToNewerClaim reports whether sec holds another configuration's
// names under a newer claim that is still renewed, and if so serves its
// certificate, if usable, instead of replacing it. When this replica takes
// over an expired newer claim, its own claim starts now, so that it is the
// newest.
func (s *Source) deferToNewerClaim(sec *corev1.Secret, digest string, now time.Time) bool {
	theirs := sec.Annotations[NamesAnnotation]
	claimed, err := time.Parse(time.RFC3339Nano, sec.Annotations[ClaimedAnnotation])
	if theirs == "" || theirs == digest || err != nil || !claimed.After(s.Claimed) {
		s.deferring = false
		return false
	}
	renewed, err := time.Parse(time.RFC3339Nano, sec.Annotations[RenewedAnnotation])
	// A claim renewed (or begun) further ahead than any clock skew is not
	// believed: it would never expire, and no replica would renew the leaf.
	if err != nil || now.Sub(renewed) >= s.ClaimExpiry || renewed.Sub(now) >= s.ClaimExpiry || claimed.Sub(now) >= s.ClaimExpiry {
		s.Log.Info("Taking over the serving-certificate Secret: the newer claim on other names is no longer renewed", "claimed", claimed, "renewed", renewed)
		s.Claimed, s.deferring = now, false
		return false
	}
	if !s.deferring {
		s.deferring = true
		s.Log.Info("The serving-certificate Secret holds other names under a newer claim (a rollout in progress?); serving its certificate instead of replacing it", "claimed", claimed)
	}
	if st := s.usable(sec, now); st != nil {
		s.store(st)
	}
	return true
}

// usable returns what to serve from sec as it stands, for whatever names
// its certificate holds, or nil.
func (s *Source) usable(sec *corev1.Secret, now time.Time) *state {
	certs, ok := parseCerts(sec.Data[corev1.TLSCertKey])
	if !ok || len(certs) == 0 {
		return nil
	}
	var sans []string
	sans = append(sans, certs[0].DNSNames...)
	for _, ip := range certs[0].IPAddresses {
		sans = append(sans, ip.String())
	}
	n, err := parseNames(sans)
	if err != nil {
		return nil
	}
	ca, _ := s.checkCA(sec, n, now)
	if ca == nil {
		return nil
	}
	st, _ := s.checkLeaf(sec, ca, n, now)
	return st
}

// recordClaim marks sec as written for digest and renewed at now, keeping
// the recorded claim when the names are unchanged.
func (s *Source) recordClaim(sec *corev1.Secret, digest string, now time.Time) {
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	if sec.Annotations[NamesAnnotation] != digest || sec.Annotations[ClaimedAnnotation] == "" {
		sec.Annotations[NamesAnnotation] = digest
		sec.Annotations[ClaimedAnnotation] = s.Claimed.UTC().Format(time.RFC3339Nano)
	}
	sec.Annotations[RenewedAnnotation] = now.UTC().Format(time.RFC3339Nano)
}

// claimDue reports whether sec, holding this replica's names, needs its
// claim renewed.
func (s *Source) claimDue(sec *corev1.Secret, digest string, now time.Time) bool {
	if sec.Annotations[NamesAnnotation] != digest {
		return true
	}
	renewed, err := time.Parse(time.RFC3339Nano, sec.Annotations[RenewedAnnotation])
	return err != nil || now.Sub(renewed) >= s.RenewEvery
}

func (s *Source) store(st *state) {
	cur := s.state.Load()
	if cur != nil && bytes.Equal(cur.crt, st.crt) && bytes.Equal(cur.caPEM, st.caPEM) {
		return
	}
	if cur == nil || !bytes.Equal(cur.caPEM, st.caPEM) {
		sum := sha256.Sum256(st.cert.Certificate[len(st.cert.Certificate)-1])
		s.Log.Info("Serving CA loaded", "sha256", hex.EncodeToString(sum[:]))
	}
	s.state.Store(st)
}

// names are the configured SANs, normalised.
type names struct {
	dns []string     // lower case, sorted, unique
	ips []netip.Addr // unmapped, sorted, unique
}

// parseNames refuses anything but plain host names and IP addresses: a
// wildcard, a zone or a malformed name would widen or break the CA's
// constraints.
func parseNames(sans []string) (names, error) {
	var n names
	for _, raw := range sans {
		name := strings.TrimSpace(raw)
		if name == "" {
			continue
		}
		if ip, err := netip.ParseAddr(name); err == nil {
			if ip.Zone() != "" {
				return names{}, fmt.Errorf("serving certificate: IP address %q has a zone", name)
			}
			n.ips = append(n.ips, ip.Unmap())
			continue
		}
		name = strings.ToLower(name)
		if !validHostname(name) {
			return names{}, fmt.Errorf("serving certificate: %q is neither an IP address nor a plain DNS name (no wildcards, no trailing dot)", raw)
		}
		n.dns = append(n.dns, name)
	}
	slices.Sort(n.dns)
	n.dns = slices.Compact(n.dns)
	slices.SortFunc(n.ips, netip.Addr.Compare)
	n.ips = slices.Compact(n.ips)
	if len(n.dns) == 0 && len(n.ips) == 0 {
		return names{}, errors.New("serving certificate: no names configured")
	}
	return n, nil
}

// validHostname: LDH labels of 1-63 characters, not starting or ending with
// a hyphen, at most 253 characters in all.
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// nameConstraints is the CA's confinement for n; it fills the template and
// is what a stored CA must match exactly.
type nameConstraints struct {
	permittedDNS, excludedDNS     []string
	permittedIPs, excludedIPs     []netip.Prefix
	permittedEmail, excludedEmail []string
	permittedURI, excludedURI     []string
}

func constraintsFor(n names) nameConstraints {
	c := nameConstraints{
		permittedDNS:   slices.Clone(n.dns),
		permittedEmail: []string{reservedDomain},
		permittedURI:   []string{reservedDomain},
	}
	if len(c.permittedDNS) == 0 {
		c.permittedDNS = []string{reservedDomain}
	}
	var v4, v6 bool
	for _, ip := range n.ips {
		c.permittedIPs = append(c.permittedIPs, netip.PrefixFrom(ip, ip.BitLen()))
		v4, v6 = v4 || ip.Is4(), v6 || ip.Is6()
	}
	if !v4 {
		c.excludedIPs = append(c.excludedIPs, netip.MustParsePrefix("0.0.0.0/0"))
	}
	if !v6 {
		c.excludedIPs = append(c.excludedIPs, netip.MustParsePrefix("::/0"))
	}
	return c
}

func (c nameConstraints) apply(t *x509.Certificate) {
	t.PermittedDNSDomainsCritical = true
	t.PermittedDNSDomains, t.ExcludedDNSDomains = c.permittedDNS, c.excludedDNS
	t.PermittedIPRanges, t.ExcludedIPRanges = ipNets(c.permittedIPs), ipNets(c.excludedIPs)
	t.PermittedEmailAddresses, t.ExcludedEmailAddresses = c.permittedEmail, c.excludedEmail
	t.PermittedURIDomains, t.ExcludedURIDomains = c.permittedURI, c.excludedURI
}

// matches compares a parsed CA with c, as sets.
func (c nameConstraints) matches(ca *x509.Certificate) bool {
	sameStrings := func(want, got []string) bool {
		got = slices.Clone(got)
		for i := range got {
			got[i] = strings.ToLower(got[i])
		}
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		return slices.Equal(got, want)
	}
	sameNets := func(want []netip.Prefix, got []*net.IPNet) bool {
		if len(want) != len(got) {
			return false
		}
		have := make([]netip.Prefix, 0, len(got))
		for _, g := range got {
			ip, ok := netip.AddrFromSlice(g.IP)
			ones, bits := g.Mask.Size()
			if !ok || bits == 0 || bits != ip.BitLen() {
				return false
			}
			have = append(have, netip.PrefixFrom(ip, ones))
		}
		cmp := func(a, b netip.Prefix) int {
			if r := a.Addr().Compare(b.Addr()); r != 0 {
				return r
			}
			return a.Bits() - b.Bits()
		}
		want = slices.Clone(want)
		slices.SortFunc(have, cmp)
		slices.SortFunc(want, cmp)
		return slices.Equal(have, want)
	}
	return ca.PermittedDNSDomainsCritical &&
		sameStrings(c.permittedDNS, ca.PermittedDNSDomains) && sameStrings(c.excludedDNS, ca.ExcludedDNSDomains) &&
		sameNets(c.permittedIPs, ca.PermittedIPRanges) && sameNets(c.excludedIPs, ca.ExcludedIPRanges) &&
		sameStrings(c.permittedEmail, ca.PermittedEmailAddresses) && sameStrings(c.excludedEmail, ca.ExcludedEmailAddresses) &&
		sameStrings(c.permittedURI, ca.PermittedURIDomains) && sameStrings(c.excludedURI, ca.ExcludedURIDomains)
}

func ipNets(ps []netip.Prefix) []*net.IPNet {
	var out []*net.IPNet
	for _, p := range ps {
		out = append(out, &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())})
	}
	return out
}

// issuer is the CA with its key, held only during a Sync.
type issuer struct {
	cert *x509.Certificate
	pem  []byte
	key  *ecdsa.PrivateKey
}

// checkCA returns the Secret's CA if it is one this Source would have made
// for n and is not near expiry; otherwise nil and why.
func (s *Source) checkCA(sec *corev1.Secret, n names, now time.Time) (*issuer, string) {
	certs, ok := parseCerts(sec.Data[CACertKey])
	if !ok || len(certs) != 1 {
		return nil, "no single CA certificate in " + CACertKey
	}
	ca := certs[0]
	key, ok := parseECKey(sec.Data[CAKeyKey])
	if !ok || !key.PublicKey.Equal(ca.PublicKey) {
		return nil, "CA key missing or not the CA's"
	}
	switch {
	case len(ca.PermittedDNSDomains)+len(ca.PermittedIPRanges)+len(ca.ExcludedIPRanges) == 0:
		return nil, "CA is not name-constrained"
	case !ca.BasicConstraintsValid || !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero:
		return nil, "CA may sign further CAs"
	case ca.KeyUsage != x509.KeyUsageCertSign || !slices.Equal(ca.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || len(ca.UnknownExtKeyUsage) != 0:
		return nil, "CA key usages differ"
	case len(ca.UnhandledCriticalExtensions) != 0:
		return nil, "CA has unknown critical extensions"
	case !bytes.Equal(ca.RawSubject, ca.RawIssuer) || ca.CheckSignatureFrom(ca) != nil:
		return nil, "CA is not self-signed"
	case !constraintsFor(n).matches(ca):
		return nil, "names changed"
	case !now.Add(s.CARenewBefore).Before(ca.NotAfter):
		return nil, "CA expiry near"
	case ca.NotBefore.After(now.Add(backdate)):
		return nil, "CA not valid yet" // its writer's clock is far ahead
	}
	return &issuer{cert: ca, pem: pemCert(ca.Raw), key: key}, ""
}

// checkLeaf returns what to serve if the Secret's leaf is for exactly n,
// signed by ca, stored as [leaf, CA] with its key and not near expiry;
// otherwise nil and why.
func (s *Source) checkLeaf(sec *corev1.Secret, ca *issuer, n names, now time.Time) (*state, string) {
	crt := sec.Data[corev1.TLSCertKey]
	certs, ok := parseCerts(crt)
	if !ok || len(certs) != 2 || !bytes.Equal(certs[1].Raw, ca.cert.Raw) {
		return nil, "not a chain [leaf, CA]"
	}
	leaf := certs[0]
	cert, err := tls.X509KeyPair(crt, sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, "key does not match"
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		return nil, "key is not ECDSA"
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		return nil, "leaf is a CA"
	}
	var gotIPs []netip.Addr
	for _, ip := range leaf.IPAddresses {
		a, _ := netip.AddrFromSlice(ip)
		gotIPs = append(gotIPs, a.Unmap())
	}
	slices.SortFunc(gotIPs, netip.Addr.Compare)
	gotDNS := slices.Clone(leaf.DNSNames)
	slices.Sort(gotDNS)
	if !slices.Equal(gotDNS, n.dns) || !slices.Equal(gotIPs, n.ips) ||
		len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		return nil, "names changed"
	}
	if !now.Add(s.LeafRenewBefore).Before(leaf.NotAfter) {
		return nil, "expiry near"
	}
	if leaf.NotBefore.After(now.Add(backdate)) {
		// Its writer's clock is far ahead: clients would refuse it.
		return nil, "not valid yet"
	}
	// Verify as a client pinning the CA would, for every name. At a time
	// within both validity periods: a writer's clock slightly ahead must
	// not cause churn.
	at := now
	for _, nb := range []time.Time{leaf.NotBefore, ca.cert.NotBefore} {
		if at.Before(nb) {
			at = nb
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	for _, name := range n.hosts() {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return nil, "leaf does not verify for " + name
		}
	}
	cert.Leaf = leaf
	return &state{cert: &cert, caPEM: ca.pem, crt: slices.Clone(crt)}, ""
}

// digest identifies n: the same names in any order or case give the same.
func (n names) digest() string {
	h := sha256.New()
	for _, d := range n.dns {
		_, _ = fmt.Fprintf(h, "dns:%s\n", d) // a hash never fails to write
	}
	for _, ip := range n.ips {
		_, _ = fmt.Fprintf(h, "ip:%s\n", ip)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (n names) hosts() []string {
	out := slices.Clone(n.dns)
	for _, ip := range n.ips {
		out = append(out, ip.String())
	}
	return out
}

// issue returns the Secret's data: a new leaf from ca, or from a new CA
// when ca is nil.
func (s *Source) issue(ca *issuer, n names, now time.Time) (map[string][]byte, error) {
	if ca == nil {
		var err error
		if ca, err = s.newCA(n, now); err != nil {
			return nil, err
		}
	}
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := now.Add(-backdate), now.Add(s.LeafValidity)
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	var ips []net.IP
	for _, ip := range n.ips {
		ips = append(ips, ip.AsSlice())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "azure-authenticator"}, // no dot: never taken for a host name
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              n.dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("failed to sign the serving certificate: %w", err)
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return nil, err
	}
	caKeyPEM, err := pemKey(ca.key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		corev1.TLSCertKey:       append(pemCert(der), ca.pem...),
		corev1.TLSPrivateKeyKey: keyPEM,
		CACertKey:               slices.Clone(ca.pem),
		CAKeyKey:                caKeyPEM,
	}, nil
}

func (s *Source) newCA(n names, now time.Time) (*issuer, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "azure-authenticator serving CA " + serial.Text(16)[:8]},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(s.CAValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	constraintsFor(n).apply(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("failed to create the serving CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, pem: pemCert(der), key: key}, nil
}

// newKeyAndSerial is a fresh P-256 key and serial for a certificate.
func newKeyAndSerial() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	return key, serial, err
}

func newSerial() (*big.Int, error) {
	for {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return nil, err
		}
		if serial.BitLen() > 64 { // positive and long enough for the CA subject suffix
			return serial, nil
		}
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// parseCerts parses PEM data holding only CERTIFICATE blocks.
func parseCerts(data []byte) ([]*x509.Certificate, bool) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, false
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, false
		}
		out = append(out, c)
	}
	return out, len(bytes.TrimSpace(data)) == 0
}

func parseECKey(data []byte) (*ecdsa.PrivateKey, bool) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "EC PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, false
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	return key, err == nil
}
