//! The sample configuration in `crates/host/README.md` is valid as written and serves every
//! terminal it names (new-user finding 9: the sample once had an intl listener and a cup
//! terminal, so the host it gave served nobody, without a word).

mod support;

use iso8583_host::{Dialect, HostConfig};
use support::*;

/// The first TOML block after the README's "## Configuration file" heading.
fn readme_sample() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .split_once("## Configuration file\n")
        .expect("the README has a Configuration file section")
        .1;
    let block = section
        .split_once("```toml\n")
        .expect("a toml block in it")
        .1;
    block
        .split_once("```")
        .expect("the block ends")
        .0
        .to_owned()
}

#[test]
fn the_readme_sample_parses_and_every_terminal_has_a_listener() {
    let config = HostConfig::from_toml_str(&readme_sample()).unwrap();
    assert_eq!(config.listeners.len(), 2);
    assert_eq!(config.terminals.len(), 2);
    let unserved: Vec<&str> = config.unserved_terminals().map(|t| t.id.as_str()).collect();
    assert!(unserved.is_empty(), "not served: {unserved:?}");
    assert_eq!(config.faults.len(), 1);

    // Without its cup listener, the cup terminal is the one reported.
    let mut intl_only = config.clone();
    intl_only
        .listeners
        .retain(|l| l.dialect == Dialect::International);
    let unserved: Vec<&str> = intl_only
        .unserved_terminals()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(unserved, ["20000001"]);
}

/// Run as written (but in memory, on port 0): the last of the eight international terminals
/// sells, the `cents = 51` rule answers 51, and the UnionPay terminal signs on with the keys
/// its master key opens.
#[tokio::test]
async fn the_readme_sample_serves_its_terminals() {
    let mut config = HostConfig::from_toml_str(&readme_sample()).unwrap();
    config.db = None;
    let host = host_with(config).await;
    let addr = host.addr(Dialect::International).unwrap();
    let mut t = Term::connect_to(addr, Dialect::International, "00000008", INTL_MID).await;
    let sale = t.sale(1250, VISA);
    assert_eq!(t.exchange(sale).await.code(), "00");
    let sale = t.sale(1251, VISA);
    assert_eq!(t.exchange(sale).await.code(), "51");

    let mut cup = Term::connect(&host, Dialect::UnionPay).await;
    let (reply, keys) = cup.cup_sign_on("003").await;
    assert_eq!(reply.code(), "00");
    keys.unwrap();
    let sale = cup.sale(1000, CUP_CARD);
    assert_eq!(cup.exchange(sale).await.code(), "00");
}
