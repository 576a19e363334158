//! Faults through the real binary: every fault on at once, a server that goes down in the
//! middle of a run and stays down, and a rate limit. Each run ends with the simulator's truth
//! equal to the output.

use std::time::Duration;

use odin_sim::{Faults, SimConfig};

use crate::harness::{Kind, Scenario, StepEnd, Targets};

/// Every fault the issue names, on at once: failures before and after the change, dropped
/// connections, a rate limit, tokens that live one second, a generator that answers 9 values at
/// most and sometimes values that break the rules. The run (and the `resume`s it needs, if it
/// ends with users left) sets every user, each exactly once where the credential has a history
/// rule.
fn every_fault_at_once(kind: Kind, seed: u64) {
    let faults = Faults {
        latency_ms: 1,
        fail_rate: 0.05,
        fail_after_rate: 0.05,
        drop_rate: 0.05,
        rate_limit: Some(150.0),
        generator_cap: Some(9),
        bad_value_rate: 0.05,
        ..Faults::default()
    };
    let config = SimConfig {
        token_ttl: Duration::from_secs(1),
        ..SimConfig::with_users(400)
            .with_faults(faults)
            .with_seed(seed)
    };
    let mut scenario = Scenario::new(config, kind, Targets::File(350));
    scenario.ambiguous_faults = true;
    scenario.finish(6);
    scenario.assert_truth_equals_output();
    // Every fault was met on the way.
    let stats = scenario.simulator.stats();
    let setter = |status| stats.count_with_status("PUT", kind.setter(), status);
    eprintln!("{kind:?}: {stats:?}");
    for (status, what) in [
        (0, "dropped connections"),
        (500, "failures"),
        (400, "rule rejections"),
        (401, "expired tokens"),
    ] {
        assert!(setter(status) > 0, "{kind:?}: no {what} met");
    }
    let throttled: u64 = stats
        .requests
        .iter()
        .filter(|row| row.status == 429)
        .map(|row| row.count)
        .sum();
    assert!(throttled > 0, "{kind:?}: the rate limit was never met");
}

#[test]
fn every_fault_at_once_ends_with_every_sip_password_set() {
    every_fault_at_once(Kind::Sip, 31);
}

#[test]
fn every_fault_at_once_ends_with_every_voicemail_passcode_set() {
    every_fault_at_once(Kind::Vm, 32);
}

#[test]
fn every_fault_at_once_ends_with_every_web_password_set() {
    every_fault_at_once(Kind::Web, 33);
}

/// The server fails every request from the moment 300 users are set: the run stops by itself
/// with exit code 1 and every value it sent journaled with an answer; once the server is back,
/// `resume` finishes the run.
#[test]
fn a_server_that_stays_down_stops_the_run_and_resume_finishes_it() {
    let kind = Kind::Vm;
    let up = Faults {
        latency_ms: 2,
        ..Faults::default()
    };
    let down = Faults {
        fail_rate: 1.0,
        ..up.clone()
    };
    let mut scenario = Scenario::new(
        SimConfig::with_users(1500).with_faults(up.clone()),
        kind,
        Targets::AllUsers,
    );
    let end = scenario.step_with(&mut |simulator, since| {
        let down_now = since.count_with_status("PUT", kind.setter(), 200) >= 300;
        if down_now {
            simulator.set_faults(down.clone());
        }
        down_now
    });
    let stderr = scenario.last_stderr();
    assert!(matches!(end, StepEnd::Exited(1)), "{end:?}\n{stderr}");
    assert!(stderr.contains("server unavailable"), "{stderr}");
    assert!(stderr.contains("bwreset resume --journal"), "{stderr}");
    assert!(
        scenario.pending_users().is_empty(),
        "every value sent has its answer in the journal"
    );
    let set_before = scenario.output_rows().len();
    assert!((300..1500).contains(&set_before), "{set_before} set");

    scenario.simulator.set_faults(up);
    scenario.finish(1);
    scenario.assert_truth_equals_output();
}

/// A server that accepts 200 requests a second and answers 429 with `Retry-After` beyond it, and
/// a client with 32 requests in flight. The client pauses the whole run as told and goes on at
/// what the server accepts, so 429 answers stay a small share of all requests (a client that only
/// held back the one refused request would meet a 429 for most of its 32 workers every second,
/// about one request in seven), and no user fails: the first run sets everyone.
#[test]
fn a_rate_limit_slows_the_whole_run_and_fails_nobody() {
    let kind = Kind::Web;
    let faults = Faults {
        latency_ms: 1,
        rate_limit: Some(200.0),
        ..Faults::default()
    };
    let mut scenario = Scenario::new(
        SimConfig::with_users(800).with_faults(faults),
        kind,
        Targets::AllUsers,
    );
    scenario.extra_arguments = vec!["--concurrency".into(), "32".into()];
    scenario.finish(1);
    scenario.assert_truth_equals_output();
    let stats = scenario.simulator.stats();
    let throttled: u64 = stats
        .requests
        .iter()
        .filter(|row| row.status == 429)
        .map(|row| row.count)
        .sum();
    let total = stats.total();
    eprintln!("{throttled} of {total} requests throttled: {stats:?}");
    assert!(throttled > 0, "the rate limit was never met");
    assert!(
        throttled * 12 <= total,
        "{throttled} of {total} requests were answered 429"
    );
}

/// Every token dies twice in the middle of the run (as if expired): the client logs in again and
/// repeats the refused calls, and the one run sets every user, each once.
#[test]
fn tokens_that_die_mid_run_are_replaced_without_failing_anyone() {
    let kind = Kind::Sip;
    let mut scenario = Scenario::new(
        SimConfig::with_users(1200).with_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        }),
        kind,
        Targets::AllUsers,
    );
    let mut revoked = 0;
    let end = scenario.step_with(&mut |simulator, since| {
        let set = since.count_with_status("PUT", kind.setter(), 200);
        if (revoked == 0 && set >= 200) || (revoked == 1 && set >= 700) {
            simulator.revoke_all_tokens();
            revoked += 1;
        }
        revoked == 2
    });
    assert!(
        matches!(end, StepEnd::Exited(0)),
        "{end:?}\n{}",
        scenario.last_stderr()
    );
    assert_eq!(revoked, 2);
    let stats = scenario.simulator.stats();
    let refused: u64 = stats
        .requests
        .iter()
        .filter(|row| row.status == 401)
        .map(|row| row.count)
        .sum();
    assert!(refused > 0, "no request met a dead token");
    assert!(stats.count_with_status("POST", "/auth/token", 200) >= 3);
    scenario.assert_truth_equals_output();
}
