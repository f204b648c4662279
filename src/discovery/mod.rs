//! Which JVMs to read: the local attach list, JMX URLs, and following an app across restarts.
