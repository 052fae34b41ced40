//! The `User-Agent` every request carries.

/// `User-Agent` of every request: `wechatpay-rs/<version> (<os>/<arch>) rust/<rustc version>`.
pub const USER_AGENT: &str = env!("WECHATPAY_USER_AGENT");

#[cfg(test)]
mod tests {
    #[test]
    fn user_agent_names_sdk_platform_and_compiler() {
        let expected_prefix = format!(
            "wechatpay-rs/{} ({}/{}) rust/",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        let rust = super::USER_AGENT.strip_prefix(&expected_prefix).unwrap();
        // 1.95.0, 1.96.0-beta.3, 1.97.0-nightly: a version, no spaces, not "unknown".
        assert!(rust.starts_with("1."), "{rust}");
        assert!(!rust.contains(' '), "{rust}");
    }
}
