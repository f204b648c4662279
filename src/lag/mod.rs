//! Consumer-group lag: group listing, offsets (rdkafka, blocking pool), pure lag math and status.
