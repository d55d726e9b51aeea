//! Saved plans: `plan ENV --out FILE` records the plan with everything it was made from (the
//! environment file's digest, the facts read from AWS, the image, a digest of each resource it
//! observed), and `apply FILE` carries out exactly that plan, or refuses when anything it was
//! made from has changed since. What was reviewed is what is applied.
//!
//! What a saved plan does not protect against: someone who can edit the file. Its facts and
//! image are checked for shape (an AMI id, an image of the environment's own repository by
//! digest, the region's zones), its recorded plan must be the one they give, and account and
//! region must match the credentials; but a consistent edit (another AMI id, another digest of
//! the same repository) passes those. Its integrity is the artifact store's, unless the plan is
//! signed: with `DEPLOYER_PLAN_KEY` set (a secret of 32 bytes or more, held by the pipeline, not
//! the file's store), `plan --out` signs the file with HMAC-SHA256 and `apply`/`show` refuse a
//! file whose signature is missing or wrong.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Session, Situation};
use crate::config::check_image;
use crate::model::{ObservedResource, desired};
use crate::plan::{Plan, plan, render_json, render_text};

/// Bumped when the file's layout changes; a file of another version is refused.
const SAVED_PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub saved_plan_version: u32,
    pub deployer_version: String,
    pub environment: String,
    /// When the plan was made (RFC 3339, UTC).
    pub created_at: String,
    /// `sha256:<hex>` of the environment file the plan was made from.
    pub config_digest: String,
    /// The image the plan deploys, however it was chosen (the file, `--image`, a hold, the
    /// last push); `None` when it came from the file and the file names none (EC2 without app).
    pub image: Option<String>,
    /// Whether the image was named for the plan (`--image`): applying it ends a hold.
    pub explicit_image: bool,
    /// What the model was built from besides the file (zones, account, AMI, pushed image).
    pub facts: crate::model::Facts,
    /// `<logical id> <physical id>` → digest of each resource observed.
    pub observed: BTreeMap<String, String>,
    /// `sha256:<hex>` of `plan`.
    pub plan_digest: String,
    /// The plan, in `plan --json`'s format.
    pub plan: serde_json::Value,
    /// The plan as `plan` printed it; `show` and `apply` refuse the file when it is not the
    /// plan recomputed from the rest.
    pub text: String,
    /// `hmac-sha256:<hex>` of the file without this field, keyed by `DEPLOYER_PLAN_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The variable holding the key plans are signed and checked with.
pub const PLAN_KEY: &str = "DEPLOYER_PLAN_KEY";
const MIN_KEY_BYTES: usize = 32;

/// The signing key, when the operator set one.
pub fn plan_key() -> Result<Option<Vec<u8>>> {
    let Some(key) = std::env::var_os(PLAN_KEY) else {
        return Ok(None);
    };
    let key = key.into_encoded_bytes();
    if key.len() < MIN_KEY_BYTES {
        bail!(
            "{PLAN_KEY} holds {} bytes; a signing key needs {MIN_KEY_BYTES} or more\n  help: generate one with `openssl rand -base64 48` and keep it in the pipeline's secrets",
            key.len()
        );
    }
    Ok(Some(key))
}

impl SavedPlan {
    pub fn new(situation: &Situation, plan: &Plan) -> Self {
        let json = render_json(plan);
        Self {
            saved_plan_version: SAVED_PLAN_VERSION,
            deployer_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: situation.config.name.clone(),
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            config_digest: situation.config_digest.clone(),
            image: situation.config.app.image.clone(),
            explicit_image: situation.explicit_image,
            facts: situation.facts.clone(),
            observed: fingerprints(&situation.observed),
            plan_digest: digest(json.to_string().as_bytes()),
            text: console::strip_ansi_codes(&render_text(plan)).into_owned(),
            plan: json,
            signature: None,
        }
    }

    /// The file's HMAC under `key`, over everything but the signature itself.
    fn mac(&self, key: &[u8]) -> Result<Hmac<Sha256>> {
        let unsigned = Self {
            signature: None,
            ..self.clone()
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).context("the plan signing key")?;
        mac.update(&serde_json::to_vec(&unsigned)?);
        Ok(mac)
    }

    /// Writes the plan, signed when a key is given.
    pub fn write(&self, path: &Path, key: Option<&[u8]>) -> Result<()> {
        let mut signed = self.clone();
        if let Some(key) = key {
            let mac = self.mac(key)?.finalize().into_bytes();
            signed.signature = Some(format!("hmac-sha256:{mac:x}"));
        }
        let text = serde_json::to_string_pretty(&signed)?;
        std::fs::write(path, text + "\n").with_context(|| format!("could not write the plan to {}", path.display()))
    }

    /// Reads a plan file, checking its signature when a key is given (and refusing an
    /// unsigned file then); a signed file read without the key is refused too.
    pub fn read(path: &Path, key: Option<&[u8]>) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
        let saved: Self = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a plan written by `deployer plan ENV --out FILE`",
                path.display()
            )
        })?;
        if saved.saved_plan_version != SAVED_PLAN_VERSION {
            bail!(
                "{} is a saved plan of format {}; this deployer reads format {SAVED_PLAN_VERSION}\n  help: make the plan again with this deployer",
                path.display(),
                saved.saved_plan_version
            );
        }
        match (key, &saved.signature) {
            (None, None) => {}
            (Some(_), None) => bail!(
                "{} is not signed, and {PLAN_KEY} is set: only signed plans are carried out\n  help: make the plan again with {PLAN_KEY} set",
                path.display()
            ),
            (None, Some(_)) => bail!(
                "{} is signed; set {PLAN_KEY} to the key it was signed with to check it",
                path.display()
            ),
            (Some(key), Some(signature)) => {
                let claimed = signature.strip_prefix("hmac-sha256:").and_then(from_hex);
                // `verify_slice` compares in constant time.
                let valid =
                    claimed.is_some_and(|claimed| saved.mac(key).is_ok_and(|mac| mac.verify_slice(&claimed).is_ok()));
                if !valid {
                    bail!(
                        "{}: the signature does not match its content (or another key signed it): the file was changed after `deployer plan` wrote it\n  help: make the plan again and keep it where only the pipeline can write",
                        path.display()
                    );
                }
            }
        }
        Ok(saved)
    }
}

impl SavedPlan {
    /// A saved plan fixed its image: the same one named again (DEPLOYER_IMAGE set for the
    /// whole pipeline) is no conflict; another one, or a build, is.
    pub fn check_image_not_overridden(&self, file: &Path, image: Option<&str>, build: bool) -> Result<()> {
        let other_image = image.is_some_and(|image| self.image.as_deref() != Some(image));
        if build || other_image {
            bail!(
                "{} deploys {}; a saved plan is applied with the image it was made with, so --build and another --image (or DEPLOYER_IMAGE) do not go with it\n  help: make a new plan with `deployer plan {} --image ... --out FILE`",
                file.display(),
                crate::printable::printable_line(
                    self.image
                        .as_deref()
                        .or(self.facts.pushed_image.as_deref())
                        .unwrap_or("the file's image")
                ),
                crate::printable::printable_line(&self.environment)
            );
        }
        Ok(())
    }
}

/// Whether `apply`'s argument names a plan file rather than an environment: environment
/// names are lowercase letters, digits and `-`, so a path has a `/` or a `.` they never have.
pub fn is_plan_file(argument: &str) -> bool {
    argument.contains(['/', '.'])
}

/// Rebuilds the situation a saved plan was made in, and the plan, refusing when the
/// environment file, the account, or anything observed changed since. `session` is the
/// saved plan's environment.
pub async fn prepare_saved(session: &Session, saved: &SavedPlan, file: &Path) -> Result<(Situation, Plan)> {
    let environment = &saved.environment;
    if session.name() != environment {
        bail!(
            "the plan in {} is for {environment}, not {}",
            file.display(),
            session.name()
        );
    }
    let again = format!(
        "run `deployer plan {environment} --out {}` again and review it",
        file.display()
    );
    let loaded = session.file()?;
    if loaded.digest != saved.config_digest {
        bail!(
            "{} changed since the plan was made ({})\n  help: {again}",
            loaded.path.display(),
            saved.created_at
        );
    }
    // The file is input like any other: its image and facts are checked before they are used.
    if let Some(image) = &saved.image {
        check_image(image).map_err(|message| anyhow::anyhow!("{}: image: {message}", file.display()))?;
    }
    saved
        .facts
        .check()
        .with_context(|| format!("{} carries facts no AWS account gives", file.display()))?;
    if let Some(image) = &saved.facts.pushed_image {
        let own = format!("/{}", crate::model::repository_name(environment));
        let name = crate::config::ImageReference::parse(image)
            .map(|r| r.name)
            .unwrap_or_default();
        if !name.ends_with(&own) {
            bail!(
                "{}: facts.pushed_image is `{}`, not an image of {environment}'s own repository\n  help: {again}",
                file.display(),
                crate::printable::printable_line(image)
            );
        }
    }
    let mut config = loaded.config.clone();
    config.app.image = saved.image.clone();
    let aws = session.aws.clone();
    if aws.region != saved.facts.region {
        bail!(
            "the plan was made for region {}, and this run is in {}\n  help: pass --region {} (or {again})",
            saved.facts.region,
            aws.region,
            saved.facts.region
        );
    }
    let (state, certificate) = tokio::join!(
        async {
            tokio::try_join!(aws.sts.account_id(), aws.discover(environment))
                .with_context(|| format!("could not read the current state of {environment} in {}", aws.region))
        },
        super::check_certificate(&aws, &config, &loaded.path)
    );
    certificate?;
    let (account, observed) = state?;
    if account != saved.facts.account_id {
        bail!(
            "the plan was made for AWS account {}, and these credentials are for {account}\n  help: use the credentials the plan was made with (or {again})",
            saved.facts.account_id
        );
    }
    let changed = changed_resources(&saved.observed, &fingerprints(&observed));
    if !changed.is_empty() {
        bail!(
            "{environment} changed in AWS since the plan was made ({}): {}\n  help: {again}",
            saved.created_at,
            changed.join(", ")
        );
    }
    let desired = desired(&config, &saved.facts)?;
    let plan = plan(&desired, &observed).with_cost(&desired, &observed, &config.usage, &aws.region);
    // What `show` prints and a reviewer read must be what is carried out.
    let text = console::strip_ansi_codes(&render_text(&plan)).into_owned();
    if render_json(&plan) != saved.plan || text != saved.text {
        bail!(
            "{}: the plan written in the file is not the plan its image and facts give: the file was edited\n  help: {again}",
            file.display()
        );
    }
    // Same file, facts and observations give the same plan; a different deployer might not.
    if digest(render_json(&plan).to_string().as_bytes()) != saved.plan_digest {
        bail!(
            "this deployer ({}) plans {environment} differently from the one that saved the plan ({})\n  help: {again}",
            env!("CARGO_PKG_VERSION"),
            saved.deployer_version
        );
    }
    let situation = Situation {
        config,
        aws,
        desired,
        observed,
        pushed: None,
        held: None,
        explicit_image: saved.explicit_image,
        facts: saved.facts.clone(),
        usage: None,
        newer_image: None,
        config_digest: saved.config_digest.clone(),
    };
    Ok((situation, plan))
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// One digest per observed resource: its spec as deployer reads it, and its tags.
fn fingerprints(observed: &[ObservedResource]) -> BTreeMap<String, String> {
    observed
        .iter()
        .map(|resource| {
            let seen = serde_json::json!({"spec": resource.spec, "tags": resource.tags});
            (
                format!("{} {}", resource.id, resource.physical_id),
                digest(seen.to_string().as_bytes()),
            )
        })
        .collect()
}

/// What differs between two observations, each as `<id> (<physical id>) created|deleted|changed`.
fn changed_resources(then: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    let describe = |key: &str, what: &str| match key.split_once(' ') {
        Some((id, physical)) => format!("{id} ({physical}) {what}"),
        None => format!("{key} {what}"),
    };
    let mut changed = Vec::new();
    for (key, digest) in then {
        match now.get(key) {
            None => changed.push(describe(key, "deleted")),
            Some(current) if current != digest => changed.push(describe(key, "changed")),
            Some(_) => {}
        }
    }
    for key in now.keys().filter(|key| !then.contains_key(*key)) {
        changed.push(describe(key, "created"));
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_never_taken_for_plan_files() {
        assert!(!is_plan_file("staging"));
        assert!(!is_plan_file("prod-eu-2"));
        assert!(is_plan_file("staging.plan"));
        assert!(is_plan_file("plans/staging"));
        assert!(is_plan_file("./staging"));
    }

    #[test]
    fn every_difference_in_what_was_observed_is_named() {
        let then = BTreeMap::from([
            ("vpc vpc-1".to_owned(), "a".to_owned()),
            ("subnet-a subnet-1".to_owned(), "b".to_owned()),
            ("nat-gateway-a nat-1".to_owned(), "c".to_owned()),
        ]);
        let now = BTreeMap::from([
            ("vpc vpc-1".to_owned(), "a".to_owned()),
            ("subnet-a subnet-1".to_owned(), "B".to_owned()),
            ("nat-gateway-a nat-2".to_owned(), "c".to_owned()),
        ]);
        assert_eq!(
            changed_resources(&then, &now),
            [
                "nat-gateway-a (nat-1) deleted",
                "subnet-a (subnet-1) changed",
                "nat-gateway-a (nat-2) created"
            ]
        );
        assert!(changed_resources(&then, &then).is_empty());
    }
}
