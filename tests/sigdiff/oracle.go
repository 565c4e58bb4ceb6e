// oracle.go: the Go side of tests/sigdiff (run.sh says how it is used).
//
// Prints one line per (key set, token) tuple, tab-separated:
//
//	class  verdict  raw  jwks  token
//
// verdict is A or R: what the kube-apiserver's JWT path (go-oidc + go-jose
// v2 on Go's crypto/rsa and crypto/ecdsa) decides about the signature,
// with the differences docs/design.md lists applied (diff:jwk-metadata,
// diff:rsa-min, diff:ec-curve) and one more: an RSA signature value s >= n
// is refused, as by Go 1.20 and later (crypto/rsa through bigmod); Go
// 1.19's crypto/rsa, the one installed here, reduced s mod n first.  raw
// is go-jose's answer on Go 1.19 without those rules, so the log shows
// where one of them decided.
//
// Keys are generated fresh each run; the tuples are derived from -seed.
// Signatures are made with Go's signers and, for malformed encodings, by
// building the encoded message by hand and applying the private key (m^d
// mod n): the verifier, not the signer, is under test.
//
// Stdlib only (runs offline).
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // crypto.Hash.New
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/big"
	mrand "math/rand"
	"os"
	"strings"
)

var (
	out  *bytes.Buffer
	rng  *mrand.Rand
	seq  int
	b64u = base64.RawURLEncoding
)

type key struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	jwk map[string]interface{} // public JWK (kid added per tuple)
}

type algInfo struct {
	name  string
	kind  byte // 'R' PKCS#1 v1.5, 'P' PSS, 'E' ECDSA
	hash  crypto.Hash
	coord int
}

var algs = map[string]algInfo{
	"RS256": {"RS256", 'R', crypto.SHA256, 0}, "RS384": {"RS384", 'R', crypto.SHA384, 0},
	"RS512": {"RS512", 'R', crypto.SHA512, 0}, "PS256": {"PS256", 'P', crypto.SHA256, 0},
	"PS384": {"PS384", 'P', crypto.SHA384, 0}, "PS512": {"PS512", 'P', crypto.SHA512, 0},
	"ES256": {"ES256", 'E', crypto.SHA256, 32}, "ES384": {"ES384", 'E', crypto.SHA384, 48},
	"ES512": {"ES512", 'E', crypto.SHA512, 66},
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(2)
	}
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

func rsaJWK(pub *rsa.PublicKey) map[string]interface{} {
	return map[string]interface{}{"kty": "RSA", "n": b64u.EncodeToString(pub.N.Bytes()),
		"e": b64u.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(pub *ecdsa.PublicKey) map[string]interface{} {
	size := (pub.Curve.Params().BitSize + 7) / 8
	return map[string]interface{}{"kty": "EC", "crv": pub.Curve.Params().Name,
		"x": b64u.EncodeToString(pub.X.FillBytes(make([]byte, size))),
		"y": b64u.EncodeToString(pub.Y.FillBytes(make([]byte, size)))}
}

func newRSA(bits int) *key {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	must(err)
	return &key{rsa: k, jwk: rsaJWK(&k.PublicKey)}
}

// An RSA key with public exponent 3 (the exponent of the 2006
// Bleichenbacher forgeries against lax PKCS#1 v1.5 parsers).
func newRSAe3(bits int) *key {
	e := big.NewInt(3)
	one := big.NewInt(1)
	var p, q *big.Int
	for {
		var err error
		p, err = rand.Prime(rand.Reader, bits/2)
		must(err)
		q, err = rand.Prime(rand.Reader, bits-bits/2)
		must(err)
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != bits {
			continue
		}
		pm := new(big.Int).Sub(p, one)
		qm := new(big.Int).Sub(q, one)
		phi := new(big.Int).Mul(pm, qm)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 3}, D: d, Primes: []*big.Int{p, q}}
		must(k.Validate())
		k.Precompute()
		return &key{rsa: k, jwk: rsaJWK(&k.PublicKey)}
	}
}

func newEC(c elliptic.Curve) *key {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	must(err)
	return &key{ec: k, jwk: ecJWK(&k.PublicKey)}
}

// ---- the reference verdict ----

// goVerify: go-jose v2's verifyPayload for this key type and alg, on Go's
// crypto.  modern applies the s < n rule of Go >= 1.20.
func goVerify(k *key, alg string, input, sig []byte, modern bool) bool {
	a, ok := algs[alg]
	if !ok {
		return false
	}
	if k.rsa != nil {
		pub := &k.rsa.PublicKey
		if modern && new(big.Int).SetBytes(sig).Cmp(pub.N) >= 0 {
			return false
		}
		switch a.kind {
		case 'R':
			return rsa.VerifyPKCS1v15(pub, a.hash, digest(a.hash, input), sig) == nil
		case 'P':
			return rsa.VerifyPSS(pub, a.hash, digest(a.hash, input), sig,
				&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
		return false // go-jose: ErrUnsupportedAlgorithm for an RSA key
	}
	if k.ec != nil && a.kind == 'E' {
		if len(sig) != 2*a.coord {
			return false
		}
		r := new(big.Int).SetBytes(sig[:a.coord])
		s := new(big.Int).SetBytes(sig[a.coord:])
		return ecdsa.Verify(&k.ec.PublicKey, digest(a.hash, input), r, s)
	}
	return false
}

// documented: the rules docs/design.md lists that decide before go-jose
// would: diff:rsa-min, diff:rsa-shape, and diff:ec-curve (go-jose
// verifies ES384 with a P-256 key, RFC 7518 3.4 defines it on P-384 only).
func documented(k *key, alg string) bool {
	a := algs[alg]
	if k.rsa != nil {
		n, e := k.rsa.N, k.rsa.E
		if n.BitLen() < 2048 || n.BitLen() > 8192 || n.Bit(0) == 0 || e%2 == 0 || e == 1 ||
			big.NewInt(int64(e)).BitLen() > 32 {
			return false
		}
	}
	if k.ec != nil && a.kind == 'E' && (k.ec.Curve.Params().BitSize+7)/8 != a.coord {
		return false
	}
	return true
}

// ---- tuples ----

type entry struct {
	k   *key
	kid interface{} // nil: no kid member
	alg string      // the JWK's alg member, "" for none
	raw map[string]interface{}
}

func jwksText(es []entry) string {
	var keys []interface{}
	for _, e := range es {
		m := map[string]interface{}{}
		src := e.raw
		if src == nil {
			src = e.k.jwk
		}
		for k, v := range src {
			m[k] = v
		}
		if e.kid != nil {
			m["kid"] = e.kid
		}
		if e.alg != "" {
			m["alg"] = e.alg
		}
		keys = append(keys, m)
	}
	b, err := json.Marshal(map[string]interface{}{"keys": keys})
	must(err)
	return string(b)
}

func signingInput(alg string, kid interface{}) string {
	h := map[string]interface{}{"alg": alg, "typ": "JWT"}
	if kid != nil {
		h["kid"] = kid
	}
	hb, err := json.Marshal(h)
	must(err)
	seq++
	pb, err := json.Marshal(map[string]interface{}{"iss": "https://issuer.example", "sub": "u", "seq": seq,
		"r": rng.Int63()})
	must(err)
	return b64u.EncodeToString(hb) + "." + b64u.EncodeToString(pb)
}

var counts = map[string][3]int{}

func emitLine(class string, want, raw bool, jwks, token string) {
	v := func(b bool) string {
		if b {
			return "A"
		}
		return "R"
	}
	c := counts[class]
	c[0]++
	if want {
		c[1]++
	}
	if want != raw {
		c[2]++
	}
	counts[class] = c
	fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\n", class, v(want), v(raw), jwks, token)
}

// emit: one key set, a token for alg with kid signed by sig(input).  The
// verdict is go-oidc's: every key of the token's kid (all keys when it has
// none) that go-jose can verify with, first success wins.
func emit(class string, es []entry, alg string, kid interface{}, sign func(input []byte) []byte) {
	input := signingInput(alg, kid)
	sig := sign([]byte(input))
	want, raw := false, false
	for _, e := range es {
		if e.k == nil {
			continue
		}
		if kid != nil && (e.kid == nil || e.kid != kid) {
			continue
		}
		if goVerify(e.k, alg, []byte(input), sig, false) {
			raw = true
		}
		if e.alg != "" && e.alg != alg { // diff:jwk-metadata
			continue
		}
		if documented(e.k, alg) && goVerify(e.k, alg, []byte(input), sig, true) {
			want = true
		}
	}
	emitLine(class, want, raw, jwksText(es), input+"."+b64u.EncodeToString(sig))
}

// emit1: the common case, one key with kid "k1".
func emit1(class string, k *key, alg string, sign func([]byte) []byte) {
	emit(class, []entry{{k: k, kid: "k1"}}, alg, "k1", sign)
}

// rsaRaw: em^d mod n (with the CRT: the keys are precomputed).
func rsaRaw(k *rsa.PrivateKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	m.Mod(m, k.N)
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(m, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(m, k.Precomputed.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, k.Precomputed.Qinv)
	h.Mod(h, p)
	s := h.Mul(h, q)
	s.Add(s, m2)
	return s.FillBytes(make([]byte, k.Size()))
}

func goodSig(k *key, alg string, input []byte) []byte {
	a := algs[alg]
	d := digest(a.hash, input)
	switch {
	case k.rsa != nil && a.kind == 'R':
		s, err := rsa.SignPKCS1v15(rand.Reader, k.rsa, a.hash, d)
		must(err)
		return s
	case k.rsa != nil && a.kind == 'P':
		s, err := rsa.SignPSS(rand.Reader, k.rsa, a.hash, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		must(err)
		return s
	case k.ec != nil:
		r, s, err := ecdsa.Sign(rand.Reader, k.ec, d)
		must(err)
		c := (k.ec.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, c)), s.FillBytes(make([]byte, c))...)
	}
	panic("goodSig")
}

// ---- PKCS#1 v1.5 encodings ----

var oids = map[crypto.Hash][]byte{
	crypto.SHA256: {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01},
	crypto.SHA384: {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02},
	crypto.SHA512: {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03},
	crypto.SHA1:   {0x2b, 0x0e, 0x03, 0x02, 0x1a},
}

// digestInfo: DER DigestInfo; null adds the NULL parameters.
func digestInfo(oid, dg []byte, null bool) []byte {
	alg := append([]byte{0x06, byte(len(oid))}, oid...)
	if null {
		alg = append(alg, 0x05, 0x00)
	}
	alg = append([]byte{0x30, byte(len(alg))}, alg...)
	body := append(alg, append([]byte{0x04, byte(len(dg))}, dg...)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// pkcs1EM: 00 bt FF.. 00 t, k bytes (t shortened PS; garbage is placed
// between the zero separator and t when mid is given).
func pkcs1EM(k int, bt byte, t []byte) []byte {
	em := make([]byte, k)
	em[1] = bt
	ps := k - 3 - len(t)
	for i := 0; i < ps; i++ {
		em[2+i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em
}

func pkcs1Cases(k *key, name string) {
	n := k.rsa.Size()
	for _, alg := range []string{"RS256", "RS384", "RS512"} {
		h := algs[alg].hash
		withEM := func(class string, f func(dg []byte) []byte) {
			emit1(class, k, alg, func(in []byte) []byte { return rsaRaw(k.rsa, f(digest(h, in))) })
		}
		emit1("rs-valid/"+name, k, alg, func(in []byte) []byte { return goodSig(k, alg, in) })
		withEM("rs-valid-raw/"+name, func(dg []byte) []byte { return pkcs1EM(n, 1, digestInfo(oids[h], dg, true)) })
		withEM("rs-no-null/"+name, func(dg []byte) []byte { return pkcs1EM(n, 1, digestInfo(oids[h], dg, false)) })
		for _, other := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			if other == h {
				continue
			}
			// a valid DigestInfo of another hash over the same message
			withEM("rs-other-hash/"+name, func(dg []byte) []byte {
				return pkcs1EM(n, 1, digestInfo(oids[other], digest(other, []byte(strings.Repeat("x", 0))), true))
			})
			emit1("rs-other-hash-of-msg/"+name, k, alg, func(in []byte) []byte {
				return rsaRaw(k.rsa, pkcs1EM(n, 1, digestInfo(oids[other], digest(other, in), true)))
			})
			// our hash's digest under another hash's OID
			withEM("rs-wrong-oid/"+name, func(dg []byte) []byte { return pkcs1EM(n, 1, digestInfo(oids[other], dg, true)) })
		}
		withEM("rs-trailing-garbage/"+name, func(dg []byte) []byte {
			return pkcs1EM(n, 1, append(digestInfo(oids[h], dg, true), 0xde, 0xad))
		})
		withEM("rs-garbage-after-sep/"+name, func(dg []byte) []byte {
			t := append([]byte{0x41, 0x42, 0x43}, digestInfo(oids[h], dg, true)...)
			return pkcs1EM(n, 1, t)
		})
		withEM("rs-digest-only/"+name, func(dg []byte) []byte { return pkcs1EM(n, 1, dg) })
		withEM("rs-bt2/"+name, func(dg []byte) []byte { return pkcs1EM(n, 2, digestInfo(oids[h], dg, true)) })
		withEM("rs-bt0/"+name, func(dg []byte) []byte { return pkcs1EM(n, 0, digestInfo(oids[h], dg, true)) })
		withEM("rs-ps-not-ff/"+name, func(dg []byte) []byte {
			em := pkcs1EM(n, 1, digestInfo(oids[h], dg, true))
			em[2+rng.Intn(n-3-len(digestInfo(oids[h], dg, true)))] = 0xfe
			return em
		})
		withEM("rs-ps-short/"+name, func(dg []byte) []byte {
			em := pkcs1EM(n, 1, digestInfo(oids[h], dg, true))
			em[9] = 0 // separator early: PS of 7 bytes, garbage FFs in T
			return em
		})
		withEM("rs-no-sep/"+name, func(dg []byte) []byte {
			em := pkcs1EM(n, 1, digestInfo(oids[h], dg, true))
			em[n-len(digestInfo(oids[h], dg, true))-1] = 0xff
			return em
		})
		withEM("rs-lead-01/"+name, func(dg []byte) []byte {
			em := pkcs1EM(n, 1, digestInfo(oids[h], dg, true))
			em[0] = 0x01
			return em
		})
		withEM("rs-long-len/"+name, func(dg []byte) []byte {
			di := digestInfo(oids[h], dg, true)
			t := append([]byte{0x30, 0x81, di[1]}, di[2:]...) // non-minimal DER length
			return pkcs1EM(n, 1, t)
		})
		withEM("rs-octet-long-len/"+name, func(dg []byte) []byte {
			di := digestInfo(oids[h], dg, true)
			i := len(di) - len(dg) - 2
			t := append(append([]byte{}, di[:i]...), 0x04, 0x81, byte(len(dg)))
			t = append(t, dg...)
			t[1]++
			return pkcs1EM(n, 1, t)
		})
		// PSS signature under an RS alg
		emit1("rs-pss-sig/"+name, k, alg, func(in []byte) []byte {
			s, err := rsa.SignPSS(rand.Reader, k.rsa, h, digest(h, in), nil)
			must(err)
			return s
		})
	}
}

// ---- signature values ----

func valueCases(k *key, name string) {
	N := k.rsa.N
	n := k.rsa.Size()
	for _, alg := range []string{"RS256", "PS384"} {
		fix := func(class string, f func(s []byte) []byte) {
			emit1(class+"/"+name, k, alg, func(in []byte) []byte { return f(goodSig(k, alg, in)) })
		}
		fix("val-zero", func(s []byte) []byte { return make([]byte, n) })
		fix("val-one", func(s []byte) []byte { return big.NewInt(1).FillBytes(make([]byte, n)) })
		fix("val-n-1", func(s []byte) []byte { return new(big.Int).Sub(N, big.NewInt(1)).FillBytes(make([]byte, n)) })
		fix("val-n", func(s []byte) []byte { return N.FillBytes(make([]byte, n)) })
		fix("val-n+1", func(s []byte) []byte { return new(big.Int).Add(N, big.NewInt(1)).FillBytes(make([]byte, n)) })
		fix("val-ff", func(s []byte) []byte { return bytes.Repeat([]byte{0xff}, n) })
		fix("val-s+n", func(s []byte) []byte {
			v := new(big.Int).Add(new(big.Int).SetBytes(s), N)
			if (v.BitLen()+7)/8 > n {
				return s // does not fit: the valid one (counted as accept)
			}
			return v.FillBytes(make([]byte, n))
		})
		fix("val-neg", func(s []byte) []byte { // n - s: (-s)^e = -(m) mod n
			return new(big.Int).Sub(N, new(big.Int).SetBytes(s)).FillBytes(make([]byte, n))
		})
		fix("val-short", func(s []byte) []byte { return s[1:] })
		fix("val-long", func(s []byte) []byte { return append([]byte{0}, s...) })
		fix("val-long-ff", func(s []byte) []byte { return append(s, 0) })
		fix("val-empty", func(s []byte) []byte { return nil })
		for i := 0; i < 8; i++ {
			fix("val-bitflip", func(s []byte) []byte {
				s[rng.Intn(len(s))] ^= byte(1 << uint(rng.Intn(8)))
				return s
			})
		}
		// a valid signature whose first byte is zero (grind the message)
		for i := 0; i < 2000; i++ {
			input := signingInput(alg, "k1")
			s := goodSig(k, alg, []byte(input))
			if s[0] != 0 {
				continue
			}
			es := []entry{{k: k, kid: "k1"}}
			for _, v := range [][]byte{s, s[1:], append([]byte{0}, s...)} {
				want := goVerify(k, alg, []byte(input), v, true)
				emitLine("val-lead-zero/"+name, want, goVerify(k, alg, []byte(input), v, false), jwksText(es),
					input+"."+b64u.EncodeToString(v))
			}
			break
		}
	}
}

// ---- PSS encodings ----

func mgf1(seed []byte, l int, h hash.Hash) []byte {
	var out []byte
	for c := uint32(0); len(out) < l; c++ {
		h.Reset()
		h.Write(seed)
		h.Write([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
		out = h.Sum(out)
	}
	return out[:l]
}

type pssOpt struct {
	salt       int
	mgf        crypto.Hash // 0: the same hash
	hh         crypto.Hash // hash of M' (0: the same)
	trailer    byte        // 0: 0xbc
	topBits    bool        // leave the top bits set
	sep        byte        // 0: 0x01
	psNonZero  bool
	emBitsPlus int // encode for emBits + this
}

func pssEM(dg []byte, h crypto.Hash, emBits int, o pssOpt) []byte {
	emBits += o.emBitsPlus
	emLen := (emBits + 7) / 8
	hh := h
	if o.hh != 0 {
		hh = o.hh
	}
	mg := h
	if o.mgf != 0 {
		mg = o.mgf
	}
	salt := make([]byte, o.salt)
	rng.Read(salt)
	mp := append(append(make([]byte, 8), dg...), salt...)
	H := digest(hh, mp)
	hLen := len(H)
	psLen := emLen - o.salt - hLen - 2
	if psLen < 0 {
		return nil
	}
	db := make([]byte, emLen-hLen-1)
	sep := byte(1)
	if o.sep != 0 {
		sep = o.sep
	}
	db[psLen] = sep
	if o.psNonZero && psLen > 0 {
		db[rng.Intn(psLen)] = 0x02
	}
	copy(db[psLen+1:], salt)
	mask := mgf1(H, len(db), mg.New())
	for i := range db {
		db[i] ^= mask[i]
	}
	if o.topBits {
		db[0] |= 0xff << uint(8-(8*emLen-emBits))
		if 8*emLen == emBits {
			db[0] |= 0x80
		}
	} else {
		db[0] &= 0xff >> uint(8*emLen-emBits)
	}
	tr := byte(0xbc)
	if o.trailer != 0 {
		tr = o.trailer
	}
	return append(append(db, H...), tr)
}

func pssCases(k *key, name string) {
	emBits := k.rsa.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	for _, alg := range []string{"PS256", "PS384", "PS512"} {
		h := algs[alg].hash
		hLen := h.Size()
		max := emLen - hLen - 2
		with := func(class string, o pssOpt) {
			emit1(class+"/"+name, k, alg, func(in []byte) []byte {
				em := pssEM(digest(h, in), h, emBits, o)
				if em == nil {
					return make([]byte, k.rsa.Size())
				}
				return rsaRaw(k.rsa, em)
			})
		}
		emit1("ps-valid-go/"+name, k, alg, func(in []byte) []byte { return goodSig(k, alg, in) })
		emit1("ps-valid-go-auto/"+name, k, alg, func(in []byte) []byte {
			s, err := rsa.SignPSS(rand.Reader, k.rsa, h, digest(h, in), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
			must(err)
			return s
		})
		for _, sl := range []int{0, 1, 2, hLen - 1, hLen, hLen + 1, 2 * hLen, max - 1, max} {
			with(fmt.Sprintf("ps-salt"), pssOpt{salt: sl})
		}
		for i := 0; i < 6; i++ {
			with("ps-salt-rand", pssOpt{salt: rng.Intn(max + 1)})
		}
		for _, sl := range []int{0, hLen, max} {
			for _, mg := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				if mg != h {
					with("ps-mgf-hash", pssOpt{salt: sl, mgf: mg})
					with("ps-mprime-hash", pssOpt{salt: sl, hh: mg})
				}
			}
			with("ps-trailer", pssOpt{salt: sl, trailer: 0xbd})
			with("ps-trailer-cc", pssOpt{salt: sl, trailer: 0xcc})
			with("ps-top-bits", pssOpt{salt: sl, topBits: true})
			with("ps-sep-02", pssOpt{salt: sl, sep: 0x02})
			with("ps-ps-nonzero", pssOpt{salt: sl, psNonZero: true})
			with("ps-embits+1", pssOpt{salt: sl, emBitsPlus: 1})
			with("ps-embits-1", pssOpt{salt: sl, emBitsPlus: -1})
			with("ps-embits-8", pssOpt{salt: sl, emBitsPlus: -8})
		}
		with("ps-salt-max+1", pssOpt{salt: max + 1})
		// DB with no 0x01 at all (the separator zeroed): no salt length fits
		with("ps-no-sep", pssOpt{salt: hLen, sep: 0xff})
		// a PKCS#1 v1.5 signature under a PS alg
		emit1("ps-pkcs1-sig/"+name, k, alg, func(in []byte) []byte {
			s, err := rsa.SignPKCS1v15(rand.Reader, k.rsa, h, digest(h, in))
			must(err)
			return s
		})
		// a PSS signature with another hash
		for _, other := range []string{"PS256", "PS384", "PS512"} {
			if other != alg {
				emit1("ps-other-alg-sig/"+name, k, alg, func(in []byte) []byte { return goodSig(k, other, in) })
			}
		}
	}
}

// ---- ECDSA ----

func ecCases(k *key, name, alg string) {
	a := algs[alg]
	c := a.coord
	N := k.ec.Curve.Params().N
	P := k.ec.Curve.Params().P
	rs := func(r, s *big.Int) []byte {
		if (r.BitLen()+7)/8 > c || (s.BitLen()+7)/8 > c {
			return nil
		}
		return append(r.FillBytes(make([]byte, c)), s.FillBytes(make([]byte, c))...)
	}
	fix := func(class string, f func(r, s *big.Int) []byte) {
		emit1(class+"/"+name, k, alg, func(in []byte) []byte {
			g := goodSig(k, alg, in)
			return f(new(big.Int).SetBytes(g[:c]), new(big.Int).SetBytes(g[c:]))
		})
	}
	for i := 0; i < 10; i++ {
		emit1("es-valid/"+name, k, alg, func(in []byte) []byte { return goodSig(k, alg, in) })
	}
	fix("es-high-s", func(r, s *big.Int) []byte { return rs(r, new(big.Int).Sub(N, s)) })
	fix("es-r0", func(r, s *big.Int) []byte { return rs(big.NewInt(0), s) })
	fix("es-s0", func(r, s *big.Int) []byte { return rs(r, big.NewInt(0)) })
	fix("es-zero", func(r, s *big.Int) []byte { return make([]byte, 2*c) })
	fix("es-rn", func(r, s *big.Int) []byte { return rs(N, s) })
	fix("es-sn", func(r, s *big.Int) []byte { return rs(r, N) })
	fix("es-r+n", func(r, s *big.Int) []byte {
		if v := rs(new(big.Int).Add(r, N), s); v != nil {
			return v
		}
		return rs(r, new(big.Int).Add(s, big.NewInt(1)))
	})
	fix("es-s+n", func(r, s *big.Int) []byte {
		if v := rs(r, new(big.Int).Add(s, N)); v != nil {
			return v
		}
		return rs(r, new(big.Int).Add(s, big.NewInt(1)))
	})
	fix("es-r+p", func(r, s *big.Int) []byte { // x mod n vs x mod p
		if v := rs(new(big.Int).Add(r, P), s); v != nil {
			return v
		}
		return rs(new(big.Int).Add(r, big.NewInt(1)), s)
	})
	fix("es-ff", func(r, s *big.Int) []byte { return bytes.Repeat([]byte{0xff}, 2*c) })
	fix("es-r1s1", func(r, s *big.Int) []byte { return rs(big.NewInt(1), big.NewInt(1)) })
	fix("es-swap", func(r, s *big.Int) []byte { return rs(s, r) })
	fix("es-short", func(r, s *big.Int) []byte { return rs(r, s)[1:] })
	fix("es-long", func(r, s *big.Int) []byte { return append([]byte{0}, rs(r, s)...) })
	fix("es-der", func(r, s *big.Int) []byte {
		der := func(v *big.Int) []byte {
			b := v.Bytes()
			if b[0]&0x80 != 0 {
				b = append([]byte{0}, b...)
			}
			return append([]byte{2, byte(len(b))}, b...)
		}
		body := append(der(r), der(s)...)
		if len(body) < 128 {
			return append([]byte{0x30, byte(len(body))}, body...)
		}
		return append([]byte{0x30, 0x81, byte(len(body))}, body...)
	})
	for i := 0; i < 6; i++ {
		fix("es-bitflip", func(r, s *big.Int) []byte {
			v := rs(r, s)
			v[rng.Intn(len(v))] ^= byte(1 << uint(rng.Intn(8)))
			return v
		})
	}
	// a signature for the hash of another alg, and other algs on this key
	for _, other := range []string{"ES256", "ES384", "ES512"} {
		if other == alg {
			continue
		}
		emit1("es-alg-curve-mismatch/"+name, k, other, func(in []byte) []byte { return goodSig(k, alg, in) })
		emit1("es-other-hash/"+name, k, alg, func(in []byte) []byte {
			oh := algs[other].hash
			r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest(oh, in))
			must(err)
			return rs(r, s)
		})
	}
	for _, other := range []string{"RS256", "PS256"} {
		emit1("es-key-rsa-alg/"+name, k, other, func(in []byte) []byte { return make([]byte, 256) })
	}
	// another ES alg's hash and r||s length with this key: go-jose verifies
	// it (no curve check) when r and s fit; refused here (diff:ec-curve)
	for _, other := range []string{"ES256", "ES384", "ES512"} {
		if other == alg {
			continue
		}
		o := algs[other]
		emit1("es-curve-alg/"+name, k, other, func(in []byte) []byte {
			r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest(o.hash, in))
			must(err)
			if (r.BitLen()+7)/8 > o.coord || (s.BitLen()+7)/8 > o.coord {
				return make([]byte, 2*o.coord)
			}
			return append(r.FillBytes(make([]byte, o.coord)), s.FillBytes(make([]byte, o.coord))...)
		})
	}
}

// ---- JWK point checks ----

func ecKeyCases(k *key, name, alg string) {
	c := k.ec.Curve.Params()
	size := (c.BitSize + 7) / 8
	x, y := k.ec.PublicKey.X, k.ec.PublicKey.Y
	variant := func(class string, xb, yb []byte, valid bool) {
		raw := map[string]interface{}{"kty": "EC", "crv": c.Name, "x": b64u.EncodeToString(xb), "y": b64u.EncodeToString(yb)}
		input := signingInput(alg, "k1")
		sig := goodSig(k, alg, []byte(input))
		// go-jose: x and y of the curve's full length, on the curve; the
		// signature is k's, checked with the published point
		px, py := new(big.Int).SetBytes(xb), new(big.Int).SetBytes(yb)
		want := valid && len(xb) == size && len(yb) == size && c.IsOnCurve(px, py) &&
			goVerify(&key{ec: &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: k.ec.Curve, X: px, Y: py}}},
				alg, []byte(input), sig, true)
		emitLine("jwk-ec-"+class+"/"+name, want, want, jwksText([]entry{{raw: raw, kid: "k1"}}), input+"."+b64u.EncodeToString(sig))
	}
	full := func(v *big.Int) []byte { return v.FillBytes(make([]byte, size)) }
	variant("ok", full(x), full(y), true)
	variant("x-short", x.Bytes()[1:], full(y), true)
	variant("x-long", append([]byte{0}, full(x)...), full(y), true)
	variant("y-neg", full(x), full(new(big.Int).Sub(c.P, y)), true) // on the curve, another key
	yp := new(big.Int).Add(y, c.P)
	if (yp.BitLen()+7)/8 <= size {
		variant("y+p", full(x), full(yp), true)
	}
	xp := new(big.Int).Add(x, c.P)
	if (xp.BitLen()+7)/8 <= size {
		variant("x+p", full(xp), full(y), true)
	}
	variant("off-curve", full(x), full(new(big.Int).Add(y, big.NewInt(1))), true)
	variant("zero", make([]byte, size), make([]byte, size), true)
	variant("x0", make([]byte, size), full(y), true)
	variant("p", full(c.P), full(y), true)
	// the point (x, y) with x = 0 when b is a square: on the curve, not our key
	if yy := new(big.Int).ModSqrt(c.B, c.P); yy != nil {
		variant("x0-on-curve", make([]byte, size), full(yy), true)
	}
}

// ---- RSA key shapes (diff:rsa-shape) ----

func rsaShapeCases(base *key) {
	k := base.rsa
	pubKey := func(e int) *key {
		pk := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: k.N, E: e}}
		return &key{rsa: pk, jwk: rsaJWK(&pk.PublicKey)}
	}
	// e = 1: the encoded message is its own signature (Go 1.19 takes it)
	e1 := pubKey(1)
	emit("jwk-rsa-e1", []entry{{k: e1, kid: "k1"}}, "RS256", "k1", func(in []byte) []byte {
		return pkcs1EM(k.Size(), 1, digestInfo(oids[crypto.SHA256], digest(crypto.SHA256, in), true))
	})
	// e = 2^32 + 1 (33 bits) and e = 2^31 + 11 (32 bits), real key pairs
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(k.Primes[0], one), new(big.Int).Sub(k.Primes[1], one))
	for _, ev := range []int64{1<<32 + 1, 1<<31 + 11, 1<<32 - 1} {
		e := big.NewInt(ev)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		kk := pubKey(int(ev))
		class := fmt.Sprintf("jwk-rsa-e%dbits", e.BitLen())
		emit(class, []entry{{k: kk, kid: "k1"}}, "RS256", "k1", func(in []byte) []byte {
			em := pkcs1EM(k.Size(), 1, digestInfo(oids[crypto.SHA256], digest(crypto.SHA256, in), true))
			return new(big.Int).Exp(new(big.Int).SetBytes(em), d, k.N).FillBytes(make([]byte, k.Size()))
		})
	}
	// an even e and an even n: no signature verifies in Go either
	emit("jwk-rsa-e-even", []entry{{k: pubKey(65538), kid: "k1"}}, "RS256", "k1",
		func(in []byte) []byte { return goodSig(base, "RS256", in) })
	even := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Add(k.N, one), E: 65537}}
	emit("jwk-rsa-n-even", []entry{{k: &key{rsa: even, jwk: rsaJWK(&even.PublicKey)}, kid: "k1"}}, "RS256", "k1",
		func(in []byte) []byte { return goodSig(base, "RS256", in) })
}

// ---- key sets ----

func jwksCases(r1, r2 *key, e1 *key) {
	// duplicate kids: the signer second, after a key of the same kid that
	// does not verify (go-oidc tries every key of the kid)
	emit("kid-dup-rsa-rsa", []entry{{k: r2, kid: "k1"}, {k: r1, kid: "k1"}}, "RS256", "k1",
		func(in []byte) []byte { return goodSig(r1, "RS256", in) })
	emit("kid-dup-ec-rsa", []entry{{k: e1, kid: "k1"}, {k: r1, kid: "k1"}}, "RS256", "k1",
		func(in []byte) []byte { return goodSig(r1, "RS256", in) })
	emit("kid-dup-rsa-ec", []entry{{k: r1, kid: "k1"}, {k: e1, kid: "k1"}}, "ES256", "k1",
		func(in []byte) []byte { return goodSig(e1, "ES256", in) })
	emit("kid-none", []entry{{k: r2, kid: "k2"}, {k: e1}, {k: r1, kid: "k1"}}, "PS256", nil,
		func(in []byte) []byte { return goodSig(r1, "PS256", in) })
	emit("kid-other", []entry{{k: r2, kid: "k2"}, {k: r1, kid: "k1"}}, "RS256", "k2",
		func(in []byte) []byte { return goodSig(r1, "RS256", in) })
	emit("kid-missing", []entry{{k: r1, kid: "k1"}}, "RS256", "k3",
		func(in []byte) []byte { return goodSig(r1, "RS256", in) })
	emit("kid-keyless", []entry{{k: r1}}, "RS256", "k1",
		func(in []byte) []byte { return goodSig(r1, "RS256", in) })
	emit("jwk-alg-match", []entry{{k: r1, kid: "k1", alg: "PS512"}}, "PS512", "k1",
		func(in []byte) []byte { return goodSig(r1, "PS512", in) })
	emit("jwk-alg-other", []entry{{k: r1, kid: "k1", alg: "RS256"}}, "PS256", "k1",
		func(in []byte) []byte { return goodSig(r1, "PS256", in) })
	// RSA key members: n with a leading zero byte (go-jose takes the value)
	raw := rsaJWK(&r1.rsa.PublicKey)
	raw["n"] = b64u.EncodeToString(append([]byte{0}, r1.rsa.N.Bytes()...))
	input := signingInput("RS256", "k1")
	sig := goodSig(r1, "RS256", []byte(input))
	emitLine("jwk-rsa-n-lead-zero", true, true, jwksText([]entry{{raw: raw, kid: "k1"}}), input+"."+b64u.EncodeToString(sig))
	raw = rsaJWK(&r1.rsa.PublicKey)
	raw["e"] = b64u.EncodeToString([]byte{0, 1, 0, 1})
	input = signingInput("RS256", "k1")
	sig = goodSig(r1, "RS256", []byte(input))
	emitLine("jwk-rsa-e-lead-zero", true, true, jwksText([]entry{{raw: raw, kid: "k1"}}), input+"."+b64u.EncodeToString(sig))
}

func main() {
	seed := flag.Int64("seed", 1, "seed for the tuples")
	quick := flag.Bool("quick", false, "fewer keys")
	flag.Parse()
	rng = mrand.New(mrand.NewSource(*seed))
	out = &bytes.Buffer{}

	rsaKeys := []struct {
		name string
		k    *key
	}{
		{"2048", newRSA(2048)}, {"2049", newRSA(2049)}, {"2052", newRSA(2052)}, {"2055", newRSA(2055)},
		{"3072e3", newRSAe3(3072)},
	}
	if !*quick {
		rsaKeys = append(rsaKeys, struct {
			name string
			k    *key
		}{"4096", newRSA(4096)})
	}
	for _, rk := range rsaKeys {
		pkcs1Cases(rk.k, rk.name)
		pssCases(rk.k, rk.name)
		valueCases(rk.k, rk.name)
		for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
			for i := 0; i < 3; i++ {
				emit1("rsa-valid/"+rk.name, rk.k, alg, func(in []byte) []byte { return goodSig(rk.k, alg, in) })
			}
		}
	}
	// a 2047-bit key (diff:rsa-min) and a 1024-bit one
	for _, bits := range []int{1024, 2047} {
		k := newRSA(bits)
		emit1(fmt.Sprintf("rsa-small-%d", bits), k, "RS256", func(in []byte) []byte { return goodSig(k, "RS256", in) })
	}
	ecs := []struct {
		name, alg string
		k         *key
	}{
		{"P-256", "ES256", newEC(elliptic.P256())}, {"P-384", "ES384", newEC(elliptic.P384())},
		{"P-521", "ES512", newEC(elliptic.P521())},
	}
	for _, e := range ecs {
		ecCases(e.k, e.name, e.alg)
		ecKeyCases(e.k, e.name, e.alg)
	}
	// P-521 keys whose x or y has leading zero bits (a short big-endian value)
	for i := 0; i < 400; i++ {
		k := newEC(elliptic.P521())
		if k.ec.X.BitLen() <= 512 || k.ec.Y.BitLen() <= 512 {
			ecKeyCases(k, "P-521-short", "ES512")
			break
		}
	}
	// ES256 signatures whose r or s has a leading zero byte
	for i, found := 0, 0; i < 3000 && found < 4; i++ {
		k := ecs[0].k
		input := signingInput("ES256", "k1")
		sig := goodSig(k, "ES256", []byte(input))
		if sig[0] == 0 || sig[32] == 0 {
			found++
			emitLine("es-lead-zero/P-256", true, true, jwksText([]entry{{k: k, kid: "k1"}}), input+"."+b64u.EncodeToString(sig))
		}
	}
	jwksCases(rsaKeys[0].k, rsaKeys[1].k, ecs[0].k)
	rsaShapeCases(rsaKeys[0].k)
	// random mutations of valid tokens' signatures, every alg
	for i := 0; i < 300; i++ {
		alg := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}[i%9]
		var k *key
		if alg[0] == 'E' {
			k = map[string]*key{"ES256": ecs[0].k, "ES384": ecs[1].k, "ES512": ecs[2].k}[alg]
		} else {
			k = rsaKeys[i%len(rsaKeys)].k
		}
		emit1("mutate", k, alg, func(in []byte) []byte {
			s := goodSig(k, alg, in)
			switch rng.Intn(4) {
			case 0:
				s[rng.Intn(len(s))] ^= byte(1 << uint(rng.Intn(8)))
			case 1:
				s[rng.Intn(len(s))] = byte(rng.Intn(256))
			case 2:
				s[0]++
			default:
				s[len(s)-1]++
			}
			return s
		})
	}
	_, err := io.Copy(os.Stdout, out)
	must(err)
	for class, c := range counts {
		fmt.Fprintf(os.Stderr, "class %s\t%d\t%d accept\t%d raw-differs\n", class, c[0], c[1], c[2])
	}
}
