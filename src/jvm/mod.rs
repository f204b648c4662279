//! The embedded JVM: the only home of `jni::` and `unsafe`.
