//! The simulator's shared state: the world, the live tokens, the fault injector, the source of
//! generated values and the request counts, behind one cheap-to-clone handle.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::Error;
use crate::config::SimConfig;
use crate::faults::{FaultInjector, Faults};
use crate::ocip::{OcipShared, Release};
use crate::soap::SoapShared;
use crate::stats::{Stats, StatsTable};
use crate::tokens::TokenStore;
use crate::truth::Credentials;
use crate::world::World;

/// Locks a mutex. A handler that panicked cannot leave the data half-changed in a way that
/// matters to a simulator, so a poisoned lock is used as is.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Salts that give the world's initial credentials, the generators and the tokens their own
/// streams of the same seed.
const WORLD_STREAM: u64 = 0x0077_6f72_6c64;
const VALUE_STREAM: u64 = 0x7661_6c75_6573;
const TOKEN_STREAM: u64 = 0x746f_6b65_6e73;

pub(crate) fn seeded_rng(seed: Option<u64>, stream: u64) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed ^ stream),
        None => StdRng::from_os_rng(),
    }
}

/// Where generated values come from: the random stream, and the last value handed out (for the
/// duplicate-value fault, which repeats it).
pub(crate) struct ValueSource {
    pub rng: StdRng,
    pub last: Option<serde_json::Value>,
}

impl fmt::Debug for ValueSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ValueSource")
            .field("last", &self.last.as_ref().map(|_| crate::REDACTED))
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub tokens: Mutex<TokenStore>,
    pub faults: FaultInjector,
    pub values: Mutex<ValueSource>,
    pub stats: Mutex<StatsTable>,
    pub login: (String, String),
    pub token_ttl: Duration,
    /// The OCI-P server both OCI-P fronts (TCP and SOAP) share.
    pub ocip: OcipShared,
    /// The SOAP front's sessions and faults.
    pub soap: SoapShared,
    /// Whether the HTTP listener serves HTTPS (the SOAP front takes `LoginRequest22V5` only then).
    pub tls: bool,
}

/// The state behind a simulator's router. Cloning it is cheap and every clone sees the same
/// world.
#[derive(Clone)]
pub struct SimState {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for SimState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SimState")
            .field("users", &lock(&self.shared.world).users.len())
            .field("faults", &self.shared.faults.current())
            .finish_non_exhaustive()
    }
}

impl SimState {
    /// Builds the state.
    ///
    /// # Panics
    /// If the world or the faults are invalid; [`SimState::try_new`] reports that as an error.
    pub fn new(config: SimConfig) -> Self {
        match SimState::try_new(config) {
            Ok(state) => state,
            Err(error) => panic!("odin-sim cannot start: {error}"),
        }
    }

    /// Builds the state, or says what is wrong with the configuration.
    pub fn try_new(config: SimConfig) -> Result<Self, Error> {
        config.faults.validate()?;
        let mut world = World::build(&config.world, &mut seeded_rng(config.seed, WORLD_STREAM))?;
        crate::devices::configure(&mut world, config.devices, config.seed)?;
        let (release, fixed_nonce) = config
            .ocip
            .as_ref()
            .map_or((Release::default(), false), |ocip| {
                (ocip.release, ocip.fixed_nonce)
            });
        Ok(SimState {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                tokens: Mutex::new(TokenStore::new(seeded_rng(config.seed, TOKEN_STREAM))),
                faults: FaultInjector::new(config.faults, config.seed),
                values: Mutex::new(ValueSource {
                    rng: seeded_rng(config.seed, VALUE_STREAM),
                    last: None,
                }),
                stats: Mutex::new(StatsTable::default()),
                login: config.login,
                token_ttl: config.token_ttl,
                ocip: OcipShared::new(release, fixed_nonce),
                soap: SoapShared::default(),
                tls: config.tls,
            }),
        })
    }

    /// The true credentials of one user, or `None` for an unknown user.
    pub fn credentials(&self, user_id: &str) -> Option<Credentials> {
        let world = lock(&self.shared.world);
        world
            .user(user_id)
            .map(|index| Credentials::of(&world.users[index]))
    }

    /// The true credentials of every user, in world order.
    pub fn all_credentials(&self) -> Vec<Credentials> {
        let world = lock(&self.shared.world);
        world.users.iter().map(Credentials::of).collect()
    }

    /// Replaces the fault switches (invalid probabilities are clamped into 0..=1).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults.clamped());
    }

    /// The current fault switches.
    pub fn faults(&self) -> Faults {
        self.shared.faults.current()
    }

    /// Every request answered (or dropped: status 0) so far, by method, route and status.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).snapshot()
    }

    /// Kills every live token, as if they had all expired; returns how many there were.
    pub fn revoke_all_tokens(&self) -> usize {
        lock(&self.shared.tokens).revoke_all()
    }
}
