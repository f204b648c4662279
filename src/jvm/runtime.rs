//! Locating libjvm, creating the one embedded JVM (off the main thread, with
//! `-Xrs`), defining the shim classes from embedded bytes, and the worker
//! threads every JNI call runs on. Input: [`Job`]s (closures over a
//! `JNIEnv`, with the flag their caller sets when it gives up); output:
//! their results, delivered over channels. A job whose caller gave up before
//! a worker took it is dropped unrun; one that runs can ask
//! `Shim.cancelled()` (a native method answered here) between its steps.

use std::cell::RefCell;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use jni::objects::{GlobalRef, JClass, JObject, JString, JThrowable};
use jni::sys::jboolean;
use jni::{InitArgsBuilder, JNIEnv, JNIVersion, JavaVM, NativeMethod};

use super::JvmError;

mod classes {
    include!(concat!(env!("OUT_DIR"), "/shim_classes.rs"));
}

/// Most JNI worker threads: reads of different targets proceed in
/// parallel; a slow target holds at most one worker until its deadline. A
/// worker mostly waits while the shim's shared read pools (as many threads,
/// see `Conn.java`) do the work, so this many keep both sides busy however
/// many targets there are. They start as jobs need them (see [`Workers`]):
/// one target needs one or two, and each worker that ran a job keeps its
/// stack and JVM thread state resident (about 1 MiB of RSS for six idle ones).
const WORKERS: usize = 8;

/// JNI work: a closure over a worker's `JNIEnv` and the shim class.
pub(crate) type Work = Box<dyn FnOnce(&mut JNIEnv, &JClass) + Send>;

/// One piece of JNI work and, when its caller may give up on it, the flag
/// the caller sets then.
pub(crate) struct Job {
    pub(crate) run: Work,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
}

/// Jobs dropped unrun because their caller had given up (tests, logs).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many jobs were dropped unrun because their caller had given up.
pub(crate) fn dropped_jobs() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

thread_local! {
    /// The cancel flag of the job this worker thread runs now.
    static CURRENT: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// `Shim.cancelled()`: whether the caller of the job running on this thread
/// gave up (false on any thread that is not a JNI worker running a job).
extern "system" fn cancelled(_env: JNIEnv, _class: JClass) -> jboolean {
    let gone = CURRENT.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().map(|f| f.load(Ordering::Relaxed)))
            .unwrap_or(false)
    });
    u8::from(gone)
}

pub(crate) struct Runtime {
    jobs: mpsc::Sender<Job>,
    workers: Arc<Workers>,
    pub(crate) java_home: PathBuf,
    pub(crate) has_attach: bool,
}

impl Runtime {
    /// Queues a job for a JNI worker, starting another worker (up to
    /// [`WORKERS`]) when more jobs wait than workers are idle. Err: the
    /// workers are gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), ()> {
        self.workers.queued.fetch_add(1, Ordering::SeqCst);
        if self.jobs.send(job).is_err() {
            self.workers.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(());
        }
        self.workers.grow();
        Ok(())
    }

    /// JNI worker threads started so far.
    pub(crate) fn workers(&self) -> usize {
        *crate::sync::lock(&self.workers.started, "JNI workers")
    }
}

/// The JNI worker threads, started on demand: a job that finds no idle
/// worker starts one, so there are as many as jobs ever ran at once.
struct Workers {
    vm: Arc<JavaVM>,
    shim: Arc<GlobalRef>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    /// Jobs sent and not yet taken by a worker.
    queued: AtomicUsize,
    /// Workers waiting for a job.
    idle: AtomicUsize,
    started: Mutex<usize>,
}

impl Workers {
    /// Starts a worker when more jobs wait than workers are idle (a worker
    /// about to wait again may make this start one more than needed, never
    /// more than [`WORKERS`]).
    fn grow(self: &Arc<Self>) {
        if self.queued.load(Ordering::SeqCst) <= self.idle.load(Ordering::SeqCst) {
            return;
        }
        let mut started = crate::sync::lock(&self.started, "JNI workers");
        if *started >= WORKERS {
            return;
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("ksbridge-jni-{}", *started))
            .stack_size(4 << 20)
            .spawn(move || worker(&me));
        match spawned {
            Ok(_) => *started += 1,
            // The running workers take the job.
            Err(e) => tracing::warn!(error = %e, "cannot start another JNI worker"),
        }
    }
}

/// Candidate libjvm paths, in order: `$JAVA_HOME`, the `java` on `PATH`,
/// then the usual Debian/RedHat/macOS locations.
fn candidates() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    if let Some(h) = std::env::var_os("JAVA_HOME") {
        homes.push(PathBuf::from(h));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let java = dir.join("java");
            if let Ok(real) = std::fs::canonicalize(&java) {
                if let Some(home) = real.parent().and_then(Path::parent) {
                    homes.push(home.to_path_buf());
                }
            }
        }
    }
    homes.push(PathBuf::from("/usr/lib/jvm/default-java"));
    if let Ok(entries) = std::fs::read_dir("/usr/lib/jvm") {
        let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        more.sort();
        more.reverse(); // newest first by name
        homes.extend(more);
    }
    let mut out = Vec::new();
    for h in homes {
        for rel in [
            "lib/server/libjvm.so",
            "jre/lib/amd64/server/libjvm.so",
            "lib/server/libjvm.dylib",
        ] {
            let p = h.join(rel);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn locate() -> Result<PathBuf, JvmError> {
    let all = candidates();
    all.iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| JvmError::NoJdk {
            tried: all
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Starts the JVM and its workers. Called once per process (see `Jvm::get`).
pub(crate) fn start() -> Result<Runtime, JvmError> {
    let libjvm = locate()?;
    let java_home = libjvm
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    pin_library(&libjvm)?;

    // Create the JVM on a spawned thread with a large stack, never on main.
    let (tx, rx) = mpsc::channel();
    let lib = libjvm.clone();
    std::thread::Builder::new()
        .name("ksbridge-jvm-init".into())
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(create(&lib));
        })
        .map_err(|e| JvmError::Startup(format!("spawning the JVM thread: {e}")))?;
    let (vm, shim, has_attach) = rx
        .recv()
        .map_err(|_| JvmError::Startup("the JVM thread died".into()))??;

    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let workers = Arc::new(Workers {
        vm: Arc::new(vm),
        shim: Arc::new(shim),
        rx: Arc::new(Mutex::new(jobs_rx)),
        queued: AtomicUsize::new(0),
        idle: AtomicUsize::new(0),
        started: Mutex::new(0),
    });
    Ok(Runtime {
        jobs: jobs_tx,
        workers,
        java_home,
        has_attach,
    })
}

/// Keeps libjvm loaded for the life of the process (the JVM can never be
/// unloaded, and the invocation API would otherwise close its handle).
fn pin_library(path: &Path) -> Result<(), JvmError> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| JvmError::Startup(format!("bad libjvm path {}", path.display())))?;
    // Safety: `c` is a valid NUL-terminated path; dlopen has no other
    // preconditions. The handle is deliberately never closed.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(JvmError::Startup(format!(
            "cannot load {} (is it a 64-bit JDK for this machine?)",
            path.display()
        )));
    }
    Ok(())
}

/// Extra embedded-JVM options, space-separated, after ksbridge's own (the
/// JVM lets a later option win): for measuring or overriding the footprint
/// flags below without a rebuild.
pub const OPTIONS_ENV: &str = "KSBRIDGE_JVM_OPTIONS";

fn create(libjvm: &Path) -> Result<(JavaVM, GlobalRef, bool), JvmError> {
    let mut args = InitArgsBuilder::new()
        .version(JNIVersion::V8)
        // Signals (Ctrl-C, SIGTERM) stay with the Rust side.
        .option("-Xrs")
        .option("-Xms8m")
        .option("-Xmx128m")
        .option("-Xss512k")
        .option("-XX:+UseSerialGC")
        // Give the heap back after a collection instead of keeping it at its
        // high-water mark: 0.93x resident memory serving a 2,000-bean target,
        // same latency (`scripts/bench.sh`, flags part).
        .option("-XX:MaxHeapFreeRatio=20")
        .option("-XX:MinHeapFreeRatio=5")
        .option("-XX:TieredStopAtLevel=1")
        .option("-XX:CICompilerCount=1")
        .option("-XX:MaxMetaspaceSize=64m")
        // No class-data-sharing archive: this JDK maps it at a random address
        // and relocates it, so its 11.6 MiB are private and resident; loading
        // the classes ksbridge uses (about 1,800) costs less (resident 0.96x
        // serving a 2,000-bean target, 0.05-0.1 s more at start; see
        // docs/benchmarks.md).
        .option("-Xshare:off")
        // Not listed by the attach API itself (no hsperfdata file).
        .option("-XX:-UsePerfData")
        .option("-Djava.awt.headless=true")
        // An RMI call that never answers is cut off eventually even without a deadline.
        .option("-Dsun.rmi.transport.tcp.responseTimeout=120000")
        .option("-Dsun.rmi.transport.connectionTimeout=10000")
        .option("-Dsun.rmi.dgc.client.gcInterval=3600000")
        // A closed connection's lease ends with a "clean" call to its target,
        // retried 5 times at this interval when it fails (a target that has
        // exited): its RenewClean thread goes within seconds, not 15 minutes
        // (the default is 3 minutes). The shim collects after closes (Shim.collectSoon).
        .option("-Dsun.rmi.dgc.cleanInterval=2000");
    let extra = std::env::var(OPTIONS_ENV).unwrap_or_default();
    for o in extra.split_whitespace() {
        args = args.option(o);
    }
    let args = args
        .ignore_unrecognized(false)
        .build()
        .map_err(|e| JvmError::Startup(format!("{e} (options from {OPTIONS_ENV}: {extra:?})")))?;
    let vm = JavaVM::with_libjvm(args, || Ok(libjvm.as_os_str()))
        .map_err(|e| JvmError::Startup(format!("{} ({})", e, libjvm.display())))?;
    let (shim, has_attach) = {
        let mut env = vm
            .attach_current_thread()
            .map_err(|e| JvmError::Startup(format!("attaching the init thread: {e}")))?;
        let shim = define_classes(&mut env)?;
        register_natives(&mut env, &shim)?;
        let has_attach = {
            let class: &JClass = shim.as_obj().into();
            env.call_static_method(class, "hasAttach", "()Z", &[])
                .and_then(|v| v.z())
                .unwrap_or(false)
        };
        (shim, has_attach)
    };
    Ok((vm, shim, has_attach))
}

/// Defines every embedded class in the system class loader (so RMI finds the
/// stand-in enums by name), retrying until superclasses come first.
fn define_classes(env: &mut JNIEnv) -> Result<GlobalRef, JvmError> {
    let loader = env
        .call_static_method(
            "java/lang/ClassLoader",
            "getSystemClassLoader",
            "()Ljava/lang/ClassLoader;",
            &[],
        )
        .and_then(|v| v.l())
        .map_err(|e| JvmError::Startup(format!("no system class loader: {e}")))?;
    let mut pending: Vec<&(&str, &[u8])> = classes::CLASSES.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut last_error = String::new();
        pending.retain(
            |(name, bytes)| match env.define_class(*name, &loader, bytes) {
                Ok(c) => {
                    let _ = env.delete_local_ref(c);
                    false
                }
                Err(e) => {
                    let detail = take_exception(env).map(|(c, m)| format!("{c}: {m}"));
                    last_error = format!("{name}: {}", detail.unwrap_or_else(|| e.to_string()));
                    true
                }
            },
        );
        if pending.len() == before {
            return Err(JvmError::Startup(format!(
                "defining the shim classes failed: {last_error}"
            )));
        }
    }
    let shim = env
        .find_class("ksbridge/shim/Shim")
        .map_err(|e| JvmError::Startup(format!("shim class not found: {e}")))?;
    env.new_global_ref(shim)
        .map_err(|e| JvmError::Startup(format!("global ref: {e}")))
}

/// Binds the shim's native methods to their Rust functions.
fn register_natives(env: &mut JNIEnv, shim: &GlobalRef) -> Result<(), JvmError> {
    let class: &JClass = shim.as_obj().into();
    // The function's signature matches the declaration in Shim.java
    // (`static native boolean cancelled()`): (JNIEnv*, jclass) -> jboolean.
    let methods = [NativeMethod {
        name: "cancelled".into(),
        sig: "()Z".into(),
        fn_ptr: cancelled as *mut std::ffi::c_void,
    }];
    env.register_native_methods(class, &methods).map_err(|e| {
        let detail = take_exception(env).map(|(c, m)| format!("{c}: {m}"));
        JvmError::Startup(format!(
            "registering the shim's native methods failed: {}",
            detail.unwrap_or_else(|| e.to_string())
        ))
    })
}

fn worker(w: &Workers) {
    let Ok(mut env) = w.vm.attach_current_thread_as_daemon() else {
        return;
    };
    let class: &JClass = w.shim.as_obj().into();
    loop {
        w.idle.fetch_add(1, Ordering::SeqCst);
        let job = w.rx.lock().ok().and_then(|rx| rx.recv().ok());
        w.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(job) = job else {
            return;
        };
        w.queued.fetch_sub(1, Ordering::SeqCst);
        if job
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            // Its caller gave up while it waited: nobody wants the answer.
            DROPPED.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                dropped = dropped_jobs(),
                "JNI job dropped unrun: its caller gave up"
            );
            continue;
        }
        CURRENT.with(|c| *c.borrow_mut() = job.cancel.clone());
        // Each job runs in its own local frame, so no local reference outlives it.
        let run = job.run;
        let _ = env.with_local_frame(32, |env| -> jni::errors::Result<()> {
            run(env, class);
            Ok(())
        });
        CURRENT.with(|c| *c.borrow_mut() = None);
        // A job must never leave an exception pending; clear defensively.
        if env.exception_check().unwrap_or(false) {
            let _ = env.exception_clear();
        }
    }
}

/// Takes the pending Java exception, if any: (class name, message).
pub(crate) fn take_exception(env: &mut JNIEnv) -> Option<(String, String)> {
    if !env.exception_check().unwrap_or(false) {
        return None;
    }
    let ex: JThrowable = env.exception_occurred().ok()?;
    let _ = env.exception_clear();
    let class = env
        .call_method(&ex, "getClass", "()Ljava/lang/Class;", &[])
        .and_then(|v| v.l())
        .and_then(|c| env.call_method(&c, "getName", "()Ljava/lang/String;", &[]))
        .and_then(|v| v.l())
        .ok()
        .map(|s| java_string(env, s))
        .unwrap_or_else(|| "java.lang.Throwable".into());
    let message = env
        .call_method(&ex, "getMessage", "()Ljava/lang/String;", &[])
        .and_then(|v| v.l())
        .ok()
        .map(|s| java_string(env, s))
        .unwrap_or_default();
    let _ = env.exception_clear();
    Some((class, message))
}

pub(crate) fn java_string(env: &mut JNIEnv, obj: JObject) -> String {
    if obj.is_null() {
        return String::new();
    }
    let s = JString::from(obj);
    env.get_string(&s).map(Into::into).unwrap_or_default()
}
