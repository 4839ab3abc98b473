//! Both libraries decode benchmark message (a) to the same fields and encode its values to its
//! exact bytes: the check the benchmark makes before timing, run with the tests.

#[path = "../benches/peer/mod.rs"]
mod peer;

#[test]
fn iso_8583_rs_and_ours_do_the_same_work_on_message_a() {
    let a = pos8583_benches::message("a");
    peer::verify_a(&a, &peer::spec_a());
}
