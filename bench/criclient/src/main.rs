//! `criclient execsync SOCKET CONTAINER N`: N serial ExecSync calls of `true` over one CRI
//! connection, after one untimed call; prints each call's milliseconds, one per line, so that
//! the figure is the engine's round trip without crictl's process start-up and connection.

use std::time::Instant;

use isula_api::addr::Addr;
use isula_api::client::connect;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::ExecSyncRequest;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 || a[1] != "execsync" {
        eprintln!("usage: criclient execsync SOCKET CONTAINER N");
        std::process::exit(2);
    }
    let n: usize = a[4].parse().unwrap_or_else(|_| panic!("not a number: {}", a[4]));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let res: Result<Vec<f64>, String> = rt.block_on(async {
        let ch = connect(&Addr::Unix(a[2].clone().into()), None).await.map_err(|e| format!("connect {}: {e}", a[2]))?;
        let mut c = RuntimeServiceClient::new(ch);
        let req = ExecSyncRequest { container_id: a[3].clone(), cmd: vec!["true".into()], timeout: 0 };
        let mut out = Vec::with_capacity(n);
        for i in 0..=n {
            let t = Instant::now();
            let r = c.exec_sync(req.clone()).await.map_err(|e| format!("ExecSync: {e}"))?.into_inner();
            if r.exit_code != 0 {
                return Err(format!("true exited with {}", r.exit_code));
            }
            if i > 0 {
                out.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok(out)
    });
    match res {
        Ok(v) => v.iter().for_each(|ms| println!("{ms:.3}")),
        Err(e) => {
            eprintln!("criclient: {e}");
            std::process::exit(1);
        }
    }
}
