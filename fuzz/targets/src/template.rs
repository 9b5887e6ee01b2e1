//! The `--format` Go-template subset of the `isula` CLI (bins/isula/src/template.rs,
//! compiled here as it is).

use serde_json::{json, Value};

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../../bins/isula/src/template.rs"]
mod cli_template;

fn sample() -> &'static Value {
    static V: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        json!({
            "ID": "0123456789ab", "Names": ["/web", "/alias"], "Image": "busybox:latest",
            "State": {"Running": true, "Pid": 42, "ExitCode": 0, "Health": null},
            "Config": {"Labels": {"a": "b", "c": ""}, "Env": ["A=1", "B=ü"], "Cmd": null},
            "Size": 1.5e3, "Count": -1, "Empty": {}, "List": [], "Nested": [[1, 2], {"k": [true]}]
        })
    })
}

/// Input: the format, optionally followed by a NUL byte and a JSON value to render it over
/// (else a container-inspect-like sample).
pub fn template(data: &[u8]) {
    let (fmt, value) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], serde_json::from_slice::<Value>(&data[i + 1..]).ok()),
        None => (data, None),
    };
    let Ok(fmt) = std::str::from_utf8(fmt) else { return };
    let Ok(t) = cli_template::Template::parse(fmt) else { return };
    let v = value.as_ref().unwrap_or_else(|| sample());
    let _ = t.render(v);
    let _ = t.header(&|f| f.to_uppercase());
}
