//! Where the sandbox listens: a port that is taken is an error that names the address.

#[test]
fn a_port_in_use_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = wechatpay_sandbox::Sandbox::builder()
        .port(port)
        .start()
        .expect_err("the port is taken");
    assert!(
        matches!(&err, wechatpay_sandbox::Error::Listen { address, .. } if *address == format!("127.0.0.1:{port}")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{err}"
    );
}
