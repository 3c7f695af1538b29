//! brood's lab in tests: workers that are this package's own binary, ended on drop.
#![allow(dead_code)] // each test binary uses its own subset

use brood::lab::Lab;
use brood::lab::protocol::{Reply, Request};
use brood::proc::Identity;

/// A lab whose workers are this package's binary; ended (every process killed) on drop.
pub struct TestLab(pub Lab);

impl TestLab {
    pub fn new() -> TestLab {
        TestLab(Lab::new(env!("CARGO_BIN_EXE_brood").into()).expect("a lab"))
    }

    pub fn spawn(&self) -> Identity {
        self.0.spawn().expect("a worker")
    }

    pub fn fork(&self, parent: Identity) -> Identity {
        match self
            .0
            .request(parent, Request::Fork, Some(brood::lab::REPLY_TIMEOUT))
        {
            Ok(Reply::Forked(child)) => child,
            other => panic!("fork of {parent} failed: {other:?}"),
        }
    }

    pub fn exit(&self, id: Identity, code: u8) {
        let reply = self
            .0
            .request(id, Request::Exit(code), Some(brood::lab::REPLY_TIMEOUT));
        assert_eq!(reply.unwrap(), Reply::Ok(id.pid));
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        self.0.shutdown(false);
    }
}
