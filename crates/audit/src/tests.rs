use super::merkle::*;
use super::*;

fn unhex(s: &str) -> Hash {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// The RFC 6962 test data (certificate-transparency merkle_tree_test.cc).
fn ct_leaves() -> Vec<Hash> {
    let data: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    data.iter().map(|d| leaf_hash(d)).collect()
}

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn the_published_roots() {
    let l = ct_leaves();
    let mut acc = Accumulator::default();
    assert_eq!(acc.root(), unhex(ROOTS[0]));
    for n in 0..=8 {
        assert_eq!(root(&l[..n]), unhex(ROOTS[n]), "size {n}");
        if n > 0 {
            acc.push(l[n - 1]);
            assert_eq!(acc.root(), unhex(ROOTS[n]), "accumulated size {n}");
        }
    }
}

#[test]
fn the_published_inclusion_proofs() {
    let l = ct_leaves();
    let cases: [(usize, usize, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
        let got = inclusion_path(&l[..n], m).unwrap();
        assert_eq!(got, want, "PATH({m}, D[{n}])");
        assert!(verify_inclusion(
            &l[m],
            m as u64,
            n as u64,
            &got,
            &unhex(ROOTS[n])
        ));
    }
}

#[test]
fn the_published_consistency_proofs() {
    let l = ct_leaves();
    let cases: [(usize, usize, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
        let got = consistency_proof(&l[..n], m).unwrap();
        assert_eq!(got, want, "PROOF({m}, D[{n}])");
        assert!(verify_consistency(
            m as u64,
            n as u64,
            &got,
            &unhex(ROOTS[m]),
            &unhex(ROOTS[n])
        ));
    }
}

#[test]
fn every_proof_of_every_size_verifies_and_tampering_fails() {
    let l: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    for n in 1..=l.len() {
        let r = root(&l[..n]);
        for m in 0..n {
            let p = inclusion_path(&l[..n], m).unwrap();
            assert!(verify_inclusion(&l[m], m as u64, n as u64, &p, &r));
            assert!(!verify_inclusion(&l[(m + 1) % n], m as u64, n as u64, &p, &r) || n == 1);
            assert!(
                !verify_inclusion(&l[m], n as u64, n as u64, &p, &r),
                "index out of range"
            );
            if let Some(first) = p.first() {
                let mut bad = p.clone();
                bad[0] = node_hash(first, first);
                assert!(!verify_inclusion(&l[m], m as u64, n as u64, &bad, &r));
            }
        }
        for m in 1..=n {
            let p = consistency_proof(&l[..n], m).unwrap();
            let rm = root(&l[..m]);
            assert!(
                verify_consistency(m as u64, n as u64, &p, &rm, &r),
                "{m} {n}"
            );
            if m < n {
                let wrong = root(&l[1..=m]);
                assert!(
                    !verify_consistency(m as u64, n as u64, &p, &wrong, &r),
                    "{m} {n}"
                );
                assert!(!verify_consistency(m as u64, n as u64, &[], &rm, &r));
            }
        }
    }
}

const SEED: [u8; 32] = [7; 32];
const ORIGIN: &str = "switchboard test center";

fn log(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"seq\":{i},\"who\":\"ct{}\",\"what\":\"lookup\"}}",
                i % 5
            )
            .into_bytes()
        })
        .collect()
}

fn checkpoints(entries: &[Vec<u8>], sizes: &[usize], seed: &[u8; 32]) -> Vec<Checkpoint> {
    sizes
        .iter()
        .map(|s| {
            let leaves: Vec<Hash> = entries[..*s].iter().map(|e| leaf_hash(e)).collect();
            Checkpoint::sign(ORIGIN, *s as u64, root(&leaves), 1_000 + *s as u64, seed)
        })
        .collect()
}

fn verify(entries: &[Vec<u8>], cps: &[Checkpoint]) -> Result<Verified, Inconsistency> {
    verify_log(
        ORIGIN,
        &public_key(&SEED),
        entries.iter().map(|e| e.as_slice()),
        cps,
    )
}

#[test]
fn an_intact_log_verifies() {
    let e = log(100);
    let cps = checkpoints(&e, &[10, 50, 100], &SEED);
    assert_eq!(
        verify(&e, &cps),
        Ok(Verified {
            entries: 100,
            checkpoints: 3,
            unsigned_tail: 0
        })
    );
    let mut more = e.clone();
    more.push(b"{\"seq\":100}".to_vec());
    assert_eq!(verify(&more, &cps).unwrap().unsigned_tail, 1);
}

#[test]
fn every_kind_of_tampering_is_found_and_named() {
    let e = log(100);
    let cps = checkpoints(&e, &[10, 50, 100], &SEED);
    // A flipped byte in entry 30: the checkpoint at 50 no longer matches.
    let mut flipped = e.clone();
    flipped[30][3] ^= 1;
    assert!(matches!(
        verify(&flipped, &cps),
        Err(Inconsistency::RootMismatch {
            index: 1,
            size: 50,
            ..
        })
    ));
    // A deleted entry.
    let mut deleted = e.clone();
    deleted.remove(5);
    assert!(matches!(
        verify(&deleted, &cps),
        Err(Inconsistency::RootMismatch {
            index: 0,
            size: 10,
            ..
        })
    ));
    // Two entries swapped.
    let mut swapped = e.clone();
    swapped.swap(60, 61);
    assert!(matches!(
        verify(&swapped, &cps),
        Err(Inconsistency::RootMismatch {
            index: 2,
            size: 100,
            ..
        })
    ));
    // Truncated.
    assert_eq!(
        verify(&e[..60], &cps),
        Err(Inconsistency::Truncated {
            index: 2,
            size: 100,
            have: 60
        })
    );
    // A different history signed with another key.
    let mut other = e.clone();
    other[70] = b"{\"seq\":70,\"who\":\"nobody\"}".to_vec();
    let forged = checkpoints(&other, &[10, 50, 100], &[9; 32]);
    assert_eq!(
        verify(&other, &forged),
        Err(Inconsistency::BadSignature { index: 0, size: 10 })
    );
    // A checkpoint whose size was edited.
    let mut edited = cps.clone();
    edited[1].size = 49;
    assert_eq!(
        verify(&e, &edited),
        Err(Inconsistency::BadSignature { index: 1, size: 49 })
    );
    // Someone else's log.
    let foreign: Vec<Checkpoint> = cps
        .iter()
        .map(|c| Checkpoint::sign("elsewhere", c.size, c.root, c.at_ms, &SEED))
        .collect();
    assert!(matches!(
        verify(&e, &foreign),
        Err(Inconsistency::WrongOrigin { index: 0, .. })
    ));
    // An insider rewriting history and re-signing it with the real key is caught by a
    // checkpoint published earlier (an auditor's copy).
    let mut rewritten = other.clone();
    rewritten[20] = b"{\"seq\":20,\"who\":\"rewritten\"}".to_vec();
    let resigned = checkpoints(&rewritten, &[100], &SEED);
    let mut with_published = vec![cps[1].clone()];
    with_published.extend(resigned);
    assert!(matches!(
        verify(&rewritten, &with_published),
        Err(Inconsistency::RootMismatch {
            index: 0,
            size: 50,
            ..
        })
    ));
    // Checkpoints out of order.
    let mut reversed = cps.clone();
    reversed.reverse();
    assert!(matches!(
        verify(&e, &reversed),
        Err(Inconsistency::NotConsistent { .. })
    ));
}
