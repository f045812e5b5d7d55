//! [`service_kit::metric_names`] against the rest of the repository: the Grafana
//! dashboard queries only declared metrics ([`dashboard`]), and no service records a
//! metric under a name of its own ([`recording_sites`]).

mod dashboard;
mod recording_sites;
