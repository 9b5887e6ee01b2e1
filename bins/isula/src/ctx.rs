//! Per-invocation context: the daemon address, a small async runtime and lazily made clients.

use isula_api::addr::Addr;
use isula_api::v1::container_service_client::ContainerServiceClient;
use isula_api::v1::image_service_client::ImageServiceClient;
use isula_api::v1::system_service_client::SystemServiceClient;
use tonic::transport::Channel;

use crate::error::CliError;

/// Largest message accepted from the daemon (inspect/list JSON).
const MAX_MSG: usize = 64 * 1024 * 1024;

/// What every command gets.
pub(crate) struct Ctx {
    /// The daemon address.
    pub addr: Addr,
    /// The runtime that drives gRPC calls.
    pub rt: tokio::runtime::Runtime,
    tls: Option<isula_api::client::TlsFiles>,
    channel: Option<Channel>,
}

impl Ctx {
    /// A context for `host` (already chosen from -H, ISULAD_HOST or the default).
    pub(crate) fn new(host: &str, tls: Option<isula_api::client::TlsFiles>) -> Result<Ctx, CliError> {
        let addr = Addr::parse(host).map_err(CliError::engine)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::engine(format!("cannot start the async runtime: {e}")))?;
        Ok(Ctx { addr, rt, tls, channel: None })
    }

    /// The connected channel; connecting the first time. A daemon that is not there is
    /// `cannot connect to isulad at ADDR: is it running?` with status 125; a socket the user
    /// may not open says so.
    pub(crate) fn channel(&mut self) -> Result<Channel, CliError> {
        if let Some(c) = &self.channel {
            return Ok(c.clone());
        }
        let c = self
            .rt
            .block_on(isula_api::client::connect(&self.addr, self.tls.as_ref()))
            .map_err(|e| CliError::engine(crate::error::connect_error_message(&self.addr.to_string(), &e)))?;
        self.channel = Some(c.clone());
        Ok(c)
    }

    /// An image service client.
    pub(crate) fn images(&mut self) -> Result<ImageServiceClient<Channel>, CliError> {
        Ok(ImageServiceClient::new(self.channel()?)
            .max_decoding_message_size(MAX_MSG)
            .max_encoding_message_size(MAX_MSG))
    }

    /// A system service client.
    pub(crate) fn system(&mut self) -> Result<SystemServiceClient<Channel>, CliError> {
        Ok(SystemServiceClient::new(self.channel()?).max_decoding_message_size(MAX_MSG))
    }

    /// A container service client.
    pub(crate) fn containers(&mut self) -> Result<ContainerServiceClient<Channel>, CliError> {
        Ok(ContainerServiceClient::new(self.channel()?).max_decoding_message_size(MAX_MSG))
    }
}

/// Parse a JSON reply field of the daemon into its shared type (`isula_types`).
pub(crate) fn parse_typed<T: serde::de::DeserializeOwned>(field: &str, s: &str) -> Result<T, CliError> {
    serde_json::from_str(s).map_err(|e| CliError::engine(format!("bad reply from isulad ({field}): {e}")))
}

/// The JSON of a request field (`*_json`) from its shared type (`isula_types`).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("isula_types values serialise")
}

/// The JSON value of a shared type, for `--format` templates and Docker's JSON output
/// (objects with their keys sorted).
pub(crate) fn value_of<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("isula_types values serialise")
}
