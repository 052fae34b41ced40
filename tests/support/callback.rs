//! WeChat Pay callbacks made by independent code (OpenSSL directly, not `wechatpay::crypto`):
//! a realistic payment-success resource, AES-256-GCM-encrypted with an APIv3 key, wrapped in
//! the notification envelope, signed over `timestamp\nnonce\nbody\n` with a platform key:
//! the platform certificate's or the WeChat Pay public key's, chosen with
//! `wechatpay_sandbox::SignMode` (the sandbox's keys, [`super::keys`]).

use http::{HeaderMap, HeaderName, HeaderValue};
use openssl::symm::{Cipher, encrypt_aead};
use serde_json::{Value, json};
use wechatpay_sandbox::SignMode;

use super::judge::{AUTH_SCHEME, response_message, rsa_sha256_sign};
use super::keys::{keys, now_unix, random_alnum};

/// The APIv3 key the callbacks are encrypted with (32 ASCII bytes).
pub const APIV3_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

/// A callback as it arrives: headers and raw body.
#[derive(Clone, Debug)]
pub struct Callback {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Callback {
    /// Without this header (any case).
    pub fn without(mut self, name: &str) -> Callback {
        self.headers.remove(name);
        self
    }

    /// With this header set (replacing it).
    pub fn with_header(mut self, name: &str, value: &str) -> Callback {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    /// The body with its last byte changed (after signing).
    pub fn tampered(mut self) -> Callback {
        let last = self.body.last_mut().expect("non-empty body");
        *last = if *last == b'}' { b' ' } else { b'}' };
        self
    }
}

/// The decrypted resource of a JSAPI payment-success notification, as WeChat Pay documents it.
pub fn payment_resource(out_trade_no: &str) -> Value {
    json!({
        "mchid": "1900012181",
        "appid": "wxd678efh567hg6787",
        "out_trade_no": out_trade_no,
        "transaction_id": "1217752501201407033233368018",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2018-06-08T10:34:56+08:00",
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
        "amount": { "total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY" },
        "scene_info": { "device_id": "013467007045764" },
        "promotion_detail": [{
            "coupon_id": "109519",
            "name": "单品惠-6",
            "scope": "SINGLE",
            "type": "CASH",
            "amount": 100,
            "stock_id": "931386",
            "wechatpay_contribute": 0,
            "merchant_contribute": 0,
            "other_contribute": 0,
            "currency": "CNY",
            "goods_detail": [{
                "goods_id": "M1006",
                "quantity": 1,
                "unit_price": 100,
                "discount_amount": 1,
                "goods_remark": "商品备注信息"
            }]
        }]
    })
}

/// base64(AES-256-GCM(key, iv = nonce bytes, aad) || 16-byte tag), with OpenSSL directly.
pub fn seal(key: &[u8], nonce: &str, aad: &str, plaintext: &[u8]) -> String {
    let mut tag = [0u8; 16];
    let mut sealed = encrypt_aead(
        Cipher::aes_256_gcm(),
        key,
        Some(nonce.as_bytes()),
        aad.as_bytes(),
        plaintext,
        &mut tag,
    )
    .expect("AES-256-GCM encryption");
    sealed.extend_from_slice(&tag);
    openssl::base64::encode_block(&sealed)
}

/// What a callback is made of; [`CallbackSpec::payment`] is a valid one, change fields to
/// make it invalid.
#[derive(Clone, Debug)]
pub struct CallbackSpec {
    pub id: String,
    pub event_type: String,
    pub summary: String,
    pub plaintext: Vec<u8>,
    pub apiv3_key: Vec<u8>,
    pub algorithm: String,
    pub nonce: String,
    /// `None`: the field is absent from the envelope.
    pub associated_data: Option<String>,
    pub original_type: String,
    /// Whose key signs: the platform certificate's or the WeChat Pay public key's.
    pub signer: SignMode,
    /// Added to the current time for `Wechatpay-Timestamp` (signed consistently).
    pub timestamp_offset: i64,
}

impl CallbackSpec {
    /// A valid payment-success callback with a fresh id, signed with the platform certificate.
    pub fn payment() -> CallbackSpec {
        let out_trade_no = format!("1217752501201407033233368{}", random_alnum(3));
        CallbackSpec {
            id: format!("EV-2018022511223320873-{}", random_alnum(8)),
            event_type: "TRANSACTION.SUCCESS".to_owned(),
            summary: "支付成功".to_owned(),
            plaintext: serde_json::to_vec(&payment_resource(&out_trade_no)).expect("JSON"),
            apiv3_key: APIV3_KEY.as_bytes().to_vec(),
            algorithm: "AEAD_AES_256_GCM".to_owned(),
            nonce: random_alnum(12),
            associated_data: Some("transaction".to_owned()),
            original_type: "transaction".to_owned(),
            signer: SignMode::Certificate,
            timestamp_offset: 0,
        }
    }

    /// Signed with the key of this mode.
    pub fn signer(mut self, signer: SignMode) -> CallbackSpec {
        self.signer = signer;
        self
    }

    /// The envelope, with the resource encrypted.
    pub fn envelope(&self) -> Value {
        let aad = self.associated_data.clone().unwrap_or_default();
        let mut resource = json!({
            "original_type": self.original_type,
            "algorithm": self.algorithm,
            "ciphertext": seal(&self.apiv3_key, &self.nonce, &aad, &self.plaintext),
            "nonce": self.nonce,
        });
        if let Some(aad) = &self.associated_data {
            resource["associated_data"] = json!(aad);
        }
        json!({
            "id": self.id,
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": self.event_type,
            "summary": self.summary,
            "resource": resource,
        })
    }

    /// The envelope as the body, signed.
    pub fn render(&self) -> Callback {
        let body = serde_json::to_vec(&self.envelope()).expect("JSON");
        signed(body, self.signer, self.timestamp_offset)
    }
}

/// Any body, signed as WeChat Pay signs callbacks (the five `Wechatpay-*` headers): with the
/// platform certificate's key (`Wechatpay-Serial` its serial) or the WeChat Pay public key's
/// (`Wechatpay-Serial` its `PUB_KEY_ID_...`).
pub fn signed(body: Vec<u8>, signer: SignMode, timestamp_offset: i64) -> Callback {
    let k = keys();
    let timestamp = (now_unix() + timestamp_offset).to_string();
    let nonce = random_alnum(32);
    let (serial, key) = match signer {
        SignMode::PublicKey => (k.pubkey_id.as_str(), &k.pubkey_private),
        SignMode::Certificate | SignMode::Both => (k.platform_serial.as_str(), &k.platform_private),
    };
    let signature = rsa_sha256_sign(key, &response_message(&timestamp, &nonce, &body));
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Wechatpay-Timestamp", timestamp.as_str()),
        ("Wechatpay-Nonce", nonce.as_str()),
        ("Wechatpay-Signature", signature.as_str()),
        ("Wechatpay-Serial", serial),
        ("Wechatpay-Signature-Type", AUTH_SCHEME),
        ("Content-Type", "application/json"),
    ] {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    Callback { headers, body }
}
