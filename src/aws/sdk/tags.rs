//! The one tag algorithm: which tags to add or change and which to remove, never touching the
//! `aws:` keys AWS owns (it refuses any call that names them). Each service supplies only its
//! two calls through `TagApi`.

use super::error::AwsError;
use crate::model::Tags;

/// How one resource's tags must change to become `wanted`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TagChanges {
    /// Tags to add, or whose value changes.
    pub(crate) set: Tags,
    /// Keys present now and not wanted.
    pub(crate) remove: Vec<String>,
}

impl TagChanges {
    pub(crate) fn between(wanted: &Tags, current: &Tags) -> Self {
        let ours = |key: &String| !key.starts_with("aws:");
        Self {
            set: wanted
                .iter()
                .filter(|(key, value)| ours(key) && current.get(*key) != Some(*value))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            remove: current
                .keys()
                .filter(|key| ours(key) && !wanted.contains_key(*key))
                .cloned()
                .collect(),
        }
    }
}

/// A service's tagging calls, for one kind of resource handle (an id, an ARN, a name).
pub(crate) trait TagApi {
    /// Adds `tags` to the resource, overwriting the values of keys it already has.
    async fn tag(&self, resource: &str, tags: &Tags) -> Result<(), AwsError>;
    /// Removes the tags with these keys.
    async fn untag(&self, resource: &str, keys: &[String]) -> Result<(), AwsError>;
}

/// The `TagApi` of a service whose tag and untag calls name the resource with one setter and
/// take the keys to remove as a list: most of them. `tag_api!(Ecr, resource_arn,
/// tag_resource("TagResource", tags => sdk_tags(tags)), untag_resource("UntagResource"))`:
/// the service, the setter of the resource, the tag call and its operation name, the SDK's
/// tags from deployer's `tags`, the untag call and its operation name. An adapter that reaches
/// its client through a field names the path after the type (IAM's, `Roles<'_> [0.client]`).
/// The others (EC2, Auto Scaling, S3, classic ELB) spell their calls differently and implement
/// it by hand.
macro_rules! tag_api {
    ($service:ty, $id:ident, $tag:ident($tag_op:literal, $tags:ident => $convert:expr), $untag:ident($untag_op:literal)) => {
        crate::aws::tags::tag_api!($service [client], $id, $tag($tag_op, $tags => $convert), $untag($untag_op));
    };
    ($service:ty [$($client:tt)+], $id:ident, $tag:ident($tag_op:literal, $tags:ident => $convert:expr), $untag:ident($untag_op:literal)) => {
        impl crate::aws::tags::TagApi for $service {
            async fn tag(&self, resource: &str, $tags: &crate::model::Tags) -> Result<(), crate::aws::AwsError> {
                use crate::aws::error::Classify;
                self.$($client)+
                    .$tag()
                    .$id(resource)
                    .set_tags(Some($convert))
                    .send()
                    .await
                    .op($tag_op)
                    .map(drop)
            }

            async fn untag(&self, resource: &str, keys: &[String]) -> Result<(), crate::aws::AwsError> {
                use crate::aws::error::Classify;
                self.$($client)+
                    .$untag()
                    .$id(resource)
                    .set_tag_keys(Some(keys.to_vec()))
                    .send()
                    .await
                    .op($untag_op)
                    .map(drop)
            }
        }
    };
}
pub(crate) use tag_api;

/// Makes `resource`'s tags exactly `wanted` (less AWS's own), with at most two calls and none
/// when nothing differs.
pub(crate) async fn sync_tags(
    api: &impl TagApi,
    resource: &str,
    wanted: &Tags,
    current: &Tags,
) -> Result<(), AwsError> {
    let changes = TagChanges::between(wanted, current);
    if !changes.remove.is_empty() {
        api.untag(resource, &changes.remove).await?;
    }
    if !changes.set.is_empty() {
        api.tag(resource, &changes.set).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn adds_changes_and_removes_but_never_aws_keys() {
        let wanted = tags(&[("Name", "x"), ("team", "b"), ("owner", "api")]);
        let current = tags(&[
            ("Name", "x"),
            ("team", "a"),
            ("old", "1"),
            ("aws:cloudformation:stack-id", "s"),
        ]);
        let changes = TagChanges::between(&wanted, &current);
        assert_eq!(changes.set, tags(&[("owner", "api"), ("team", "b")]));
        assert_eq!(changes.remove, ["old"]);
    }

    #[test]
    fn equal_tags_need_no_call() {
        let same = tags(&[("Name", "x"), ("aws:autoscaling:groupName", "g")]);
        assert_eq!(
            TagChanges::between(&tags(&[("Name", "x")]), &same),
            TagChanges::default()
        );
    }
}
