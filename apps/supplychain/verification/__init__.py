"""Verifying supply-chain evidence offline: pure functions over bytes, keys and parsed JSON, no
database and no network. The signature math is `cryptography`'s; what is written here is only
what the specifications say to check around it.

- `keys`: trusted public keys (ECDSA P-256, Ed25519, RSA) loaded from PEM, and one `verify`.
- `dsse`: DSSE envelopes (the in-toto attestation wrapper): PAE, t-of-n signatures.
- `cosign`: cosign's simple-signing payload and its detached signature.
- `intoto`: in-toto Statements: the subject digest and the predicate type.
- `provenance`: SLSA provenance (v0.2 and v1): builder, source repository, ref.
- `scans`: vulnerability scans (cosign's vuln predicate over Trivy JSON or SARIF): age,
  severity, suppressions.

Each check answers with a `Finding` (passed or not, and why, naming the key, field or
vulnerability), so a failed gate explains itself."""
