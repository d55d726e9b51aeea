//! Command results as people and programs read them: terraform-style text, or JSON.

use std::io::Write;

use console::style;
use serde_json::json;

use super::Style;
use super::events::{RunEvent, emit};
use crate::aws::{Hold, LockHolder, LogLine, POLICY_SIZE_LIMIT, Permissions, PushedImage, Revision, policy_size};
use crate::model::Outputs;
use crate::ops::{Applied, Destroyed, EnvironmentStatus, SavedPlan, Validated};
use crate::plan::{Plan, render_json, render_text};
use crate::printable::{printable, printable_line, printable_line as line};

/// `plan`'s answer: the plan as text, or as one JSON object.
pub fn plan(plan: &Plan, json: bool) {
    if json {
        println!("{}", render_json(plan));
    } else {
        print!("{}", render_text(plan));
    }
}

/// Before `shell` hands the terminal to the AWS CLI.
pub fn session(session: &crate::ops::ShellCommand) {
    eprintln!(
        "Opening a Systems Manager session on {} (`exit` ends it)...",
        session.instance_id
    );
}

/// Generated text printed as it is (a schema, a completion script, a man page).
pub fn text(text: &str) {
    print!("{text}");
}

/// After `plan --out`: where the plan went and how to carry it out.
pub fn plan_saved(environment: &str, file: &std::path::Path) {
    println!(
        "\nSaved the plan for {environment} to {0}. To carry out exactly this plan: deployer apply {0}",
        file.display()
    );
}

/// `show FILE`: a saved plan as `plan` printed it, under what it was made from; or its JSON.
pub fn saved_plan(saved: &SavedPlan, plan: &Plan, json: bool) {
    if json {
        println!("{}", render_json(plan));
        return;
    }
    println!(
        "Saved plan for {}, made {} by deployer {} from a file with digest {}{}",
        line(&saved.environment),
        line(&saved.created_at),
        line(&saved.deployer_version),
        line(&saved.config_digest),
        if saved.signature.is_some() { ", signed" } else { "" }
    );
    if let Some(image) = &saved.image {
        println!("Image: {}", line(image));
    } else if let Some(image) = &saved.facts.pushed_image {
        println!("Image: {} (the last push)", line(image));
    }
    println!();
    print!("{}", render_text(plan));
}

/// Which pushed image the environment runs, when it runs the last push.
pub fn running_image(pushed: Option<&PushedImage>, style: Style) {
    let Some(image) = pushed else { return };
    let tags = if image.tags.is_empty() {
        "untagged".to_owned()
    } else {
        format!("tag {}", image.tags.join(", "))
    };
    let when = image
        .pushed_at
        .as_deref()
        .map(|t| format!(", pushed {t}"))
        .unwrap_or_default();
    if style == Style::Json {
        emit(&RunEvent::Image {
            image: &image.reference,
            tags: &image.tags,
            pushed_at: image.pushed_at.as_deref(),
        });
    } else {
        println!(
            "Image: {} ({}{}), the last one pushed.\n",
            line(&image.reference),
            line(&tags),
            line(&when)
        );
    }
}

/// `rollback --release` ended a hold.
pub fn released(environment: &str, hold: &Hold) {
    println!(
        "Released: {environment} was held at {} (revision {}); the next `deployer apply {environment}` rolls forward.",
        line(&hold.image),
        line(&hold.revision)
    );
}

pub fn released_nothing(environment: &str) {
    println!("{environment} is not held by a rollback; nothing to release.");
}

/// An environment held by a rollback: what it runs, and what would roll it forward.
pub fn held(environment: &str, hold: Option<&Hold>, style: Style) {
    let Some(hold) = hold else { return };
    if style == Style::Json {
        emit(&RunEvent::Held {
            hold,
            since: hold.since_text(),
        });
    } else {
        println!(
            "Held: {environment} runs {} (revision {}) since {}, by {} (`deployer rollback`).\n  A plain apply keeps it there; `deployer rollback {environment} --release`, `apply --image IMAGE` or `apply --build` rolls forward.\n",
            line(&hold.image),
            line(&hold.revision),
            hold.since_text(),
            line(&hold.by)
        );
    }
}

/// A newer Amazon Linux AMI than the instances run, kept back: how to move to it.
pub fn newer_image(situation: &crate::ops::Situation, style: Style) {
    let (Some(newer), Some(running)) = (&situation.newer_image, &situation.facts.default_image_id) else {
        return;
    };
    let environment = &situation.config.name;
    if style == Style::Json {
        emit(&RunEvent::NewerImage { image: newer, running });
    } else {
        println!(
            "A newer Amazon Linux 2023 AMI is out: {newer} (the instances run {running}).\n  They keep theirs; `deployer apply {environment} --update-ami` rolls them onto it.\n"
        );
    }
}

/// Quotas the plan would go over: on stderr, so `--json` output stays one document.
pub fn quota_warnings(warnings: &[crate::plan::quotas::QuotaWarning]) {
    for warning in warnings {
        eprintln!("{} {warning}", style("warning:").yellow().bold());
    }
}

/// The plan an apply or destroy is about to carry out, before it asks.
pub fn plan_event(plan: &Plan, style: Style) {
    if style == Style::Json {
        emit(&RunEvent::Plan {
            plan: render_json(plan),
        });
    } else {
        print!("{}", render_text(plan));
        let _ = std::io::stdout().flush();
    }
}

pub fn applied(applied: &Applied, changed_anything: bool, style: Style) {
    if style != Style::Json && changed_anything {
        let summary = applied.summary;
        println!(
            "\n{} Resources: {} added, {} changed, {} destroyed.\n",
            console::style("Apply complete!").green().bold(),
            summary.add,
            summary.change,
            summary.destroy
        );
    }
    if style == Style::Json {
        emit(&RunEvent::Outputs {
            outputs: &applied.outputs,
        });
    } else {
        println!("Outputs:\n{}", outputs_text(&applied.outputs));
    }
}

pub fn destroyed(environment: &str, destroyed: &Destroyed, style: Style) {
    if style == Style::Json {
        emit(&RunEvent::Destroyed {
            environment,
            count: destroyed.count,
        });
    } else {
        println!(
            "\n{} Resources: {} destroyed.",
            console::style("Destroy complete!").green().bold(),
            destroyed.count
        );
    }
}

/// `destroy` without a name, and no environment deployed (with `--json`, the stream's
/// `run_finished` says it all).
pub fn nothing_deployed(style: Style) {
    if style != Style::Json {
        println!("Nothing to destroy: no deployer environment is deployed in this account and region.");
    }
}

pub fn nothing_to_destroy(environment: &str, style: Style) {
    if style == Style::Json {
        emit(&RunEvent::Destroyed { environment, count: 0 });
    } else {
        println!("Nothing to destroy: no resources are tagged deployer:environment={environment}.");
    }
}

pub fn not_locked(environment: &str) {
    println!("{environment} is not locked.");
}

pub fn lock_holder(environment: &str, holder: &LockHolder) {
    println!(
        "{environment} is locked by {} ({}) since {}; the lock expires at {}.",
        line(&holder.holder),
        line(&holder.command),
        holder.started_at_text(),
        holder.expires_at_text()
    );
}

pub fn unlocked(environment: &str) {
    println!("{} The lock on {environment} is broken.", style("✓").green());
}

/// `output`'s answer.
pub fn outputs(outputs: &Outputs, json: bool) -> serde_json::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outputs)?);
    } else {
        print!("{}", outputs_text(outputs));
    }
    Ok(())
}

/// `history`: newest first, the running one marked.
pub fn history(revisions: &[Revision], json: bool) -> serde_json::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(revisions)?);
        return Ok(());
    }
    for revision in revisions {
        let marker = if revision.current {
            style("*").green().bold()
        } else {
            style(" ")
        };
        println!(
            "{marker} {:<18} {}  {}{}",
            line(&revision.revision),
            line(&revision.created_at),
            line(&revision.image),
            revision
                .created_by
                .as_ref()
                .map(|by| format!("  by {}", line(by)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `status`: one screen, or one JSON object.
pub fn status(status: &EnvironmentStatus, json: bool) -> serde_json::Result<()> {
    if json {
        let mut value = serde_json::to_value(status)?;
        value["healthy"] = json!(status.healthy());
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let verdict = if status.healthy() {
        style("healthy").green().bold()
    } else {
        style("NOT healthy").red().bold()
    };
    println!("{}: {verdict}", style(&status.environment).bold());
    match &status.compute {
        Some(c) => {
            println!(
                "  compute   {}: {} running, {} pending of {} desired{}",
                c.name,
                c.running,
                c.pending,
                c.desired,
                c.deployment
                    .as_ref()
                    .map(|d| format!(", deployment {d}"))
                    .unwrap_or_default()
            );
            println!("            runs {}", c.revision);
            for event in &c.events {
                println!("            {}", style(event).dim());
            }
        }
        None => println!("  compute   (none found)"),
    }
    if let Some(t) = &status.targets {
        println!("  targets   {} healthy, {} not", t.healthy, t.unhealthy.len());
        for target in &t.unhealthy {
            println!("            {target}");
        }
    }
    if let Some(d) = &status.database {
        println!(
            "  database  {} {}, writer {} {}",
            d.cluster,
            d.status,
            d.writer.as_deref().unwrap_or("(none)"),
            d.writer_status.as_deref().unwrap_or("")
        );
    }
    if status.alarms.is_empty() {
        println!("  alarms    (none defined)");
    }
    let width = status.alarms.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for (index, alarm) in status.alarms.iter().enumerate() {
        let label = if index == 0 { "alarms" } else { "" };
        let state = match alarm.state.as_str() {
            "ALARM" => style(alarm.state.as_str()).red(),
            "OK" => style(alarm.state.as_str()).green(),
            other => style(other).yellow(),
        };
        println!("  {label:9} {:width$} {state}", alarm.name);
    }
    for problem in &status.problems {
        println!("  {} {problem}", style("✗").red());
    }
    Ok(())
}

/// One line of `logs`: time (UTC), the task or instance, the message; or one JSON object.
pub fn log_line(line: &LogLine, json: bool) {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(line.timestamp).unwrap_or(0));
    let time = humantime::format_rfc3339_millis(at).to_string();
    if json {
        println!(
            "{}",
            json!({"timestamp": time, "source": line.source, "message": line.message})
        );
    } else {
        println!(
            "{} {} {}",
            style(time).dim(),
            style(printable_line(&line.source)).cyan(),
            printable(&line.message)
        );
    }
}

/// One ✓ line per valid file; the invalid ones come back to `main` as the error.
pub fn validated(report: &Validated) {
    for path in &report.valid {
        println!("{} {}", style("✓").green(), path.display());
    }
}

/// `key = value` lines, aligned.
fn outputs_text(outputs: &Outputs) -> String {
    let optional = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".into());
    let mut lines = vec![
        ("environment".to_owned(), outputs.environment.clone()),
        ("region".to_owned(), outputs.region.clone()),
        ("vpc_id".to_owned(), optional(&outputs.vpc_id)),
        ("public_subnet_ids".to_owned(), outputs.public_subnet_ids.join(", ")),
        ("private_subnet_ids".to_owned(), outputs.private_subnet_ids.join(", ")),
        ("nat_gateway_ids".to_owned(), outputs.nat_gateway_ids.join(", ")),
        ("load_balancer_dns".to_owned(), optional(&outputs.load_balancer_dns)),
        ("api_url".to_owned(), optional(&outputs.api_url)),
        ("database_endpoint".to_owned(), optional(&outputs.database_endpoint)),
        ("registry_url".to_owned(), optional(&outputs.registry_url)),
        ("alarms".to_owned(), outputs.alarms.join(", ")),
        ("alarm_topic_arn".to_owned(), optional(&outputs.alarm_topic_arn)),
    ];
    for (role, id) in &outputs.security_group_ids {
        lines.push((format!("security_group_{role}"), id.clone()));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines.into_iter().map(|(k, v)| format!("{k:width$} = {v}\n")).collect()
}

/// `permissions`: each policy document, then what stays on `*` and why; or one JSON object.
pub fn permissions(environment: &str, permissions: &Permissions, json: bool) -> serde_json::Result<()> {
    if json {
        let object = serde_json::json!({
            "format_version": PERMISSIONS_FORMAT_VERSION,
            "environment": environment,
            "role": permissions.role,
            "policies": permissions.policies,
            "actions": permissions.actions,
            "unscoped": permissions.unscoped,
        });
        println!("{}", serde_json::to_string_pretty(&object)?);
        return Ok(());
    }
    println!(
        "The {} operator of {environment} needs {} actions, in {} managed {}:",
        permissions.role.name(),
        permissions.actions.len(),
        permissions.policies.len(),
        if permissions.policies.len() == 1 {
            "policy"
        } else {
            "policies"
        },
    );
    for policy in &permissions.policies {
        println!(
            "\n# {} ({} of IAM's {} characters)",
            policy.name,
            policy_size(&policy.document),
            POLICY_SIZE_LIMIT
        );
        println!("{}", serde_json::to_string_pretty(&policy.document)?);
    }
    if !permissions.unscoped.is_empty() {
        println!("\nOn \"*\", because AWS cannot scope them:");
        let width = permissions.unscoped.iter().map(|u| u.action.len()).max().unwrap_or(0);
        for unscoped in &permissions.unscoped {
            println!("  {:<width$}  {}", unscoped.action, unscoped.reason);
        }
    }
    Ok(())
}

/// The version of `permissions --json`'s shape.
pub const PERMISSIONS_FORMAT_VERSION: &str = "1.0";

/// `bootstrap`: the role ARNs to set, as the deploy workflow's header asks for them.
pub fn bootstrapped(region: &str, roles: &[crate::ops::CiRole]) {
    if roles.is_empty() {
        println!("The CI roles are removed.");
        return;
    }
    println!(
        "\nSet these in your GitHub repository's environments (Settings > Environments), each with AWS_REGION={region}:"
    );
    for role in roles {
        println!(
            "  {:<24} AWS_ROLE_ARN={}  ({} role of {})",
            role.github_environment, role.arn, role.role, role.environment
        );
    }
}

/// The version of `cost --json`'s shape.
pub const COST_FORMAT_VERSION: &str = "1.0";

/// `cost`: a table per resource and dimension, the fixed lines, then the usage-based ones.
pub fn cost(costed: &crate::ops::Costed, json: bool) -> serde_json::Result<()> {
    use crate::cost::{Quantity, range};
    let estimate = &costed.estimate;
    if json {
        let object = serde_json::json!({
            "format_version": COST_FORMAT_VERSION,
            "environment": costed.environment,
            "estimate": estimate,
        });
        println!("{}", serde_json::to_string_pretty(&object)?);
        return Ok(());
    }
    println!(
        "{} in {}: on-demand {}, prices of {} (prices/aws.yaml), a month of 730 hours.\n",
        costed.environment, estimate.region, estimate.currency, estimate.price_date
    );
    let mark = |unconfirmed: bool| if unconfirmed { "*" } else { "" };
    let quantity = |q: &Quantity| match q {
        Quantity::Fixed { min, max } if (min - max).abs() < 1e-9 => round(*min),
        Quantity::Fixed { min, max } => format!("{}–{}", round(*min), round(*max)),
        Quantity::Usage { given: Some(given), .. } => round(*given),
        Quantity::Usage { field, given: None } => format!("(usage.{field})"),
    };
    println!(
        "{:<24} {:<44} {:>14} {:>12}  monthly",
        "resource", "what", "quantity", "unit price"
    );
    for line in estimate.lines.iter().filter(|l| l.monthly.is_some()) {
        println!(
            "{:<24} {:<44} {:>14} {:>12}  {}{}",
            line.resource.as_str(),
            line.what,
            quantity(&line.quantity),
            unit_price(line.unit_price),
            line.monthly.map(range).unwrap_or_default(),
            mark(line.unconfirmed)
        );
    }
    println!("\nBaseline: {}/month", range(estimate.baseline));
    if estimate.usage.max > 0.0 {
        println!("Usage (from usage:): {}/month", range(estimate.usage));
    }
    println!("Total: {}/month", range(estimate.total));
    if estimate.total.min != estimate.total.max {
        println!("  (autoscaled compute at its minimum, then at its maximum)");
    }
    let per_unit: Vec<_> = estimate.lines.iter().filter(|l| l.monthly.is_none()).collect();
    if !per_unit.is_empty() {
        println!("\nBilled by use, not in the total (give quantities under usage: in the file):");
        for line in per_unit {
            println!(
                "  {:<24} {:<36} {}/{}{}  {}",
                line.resource.as_str(),
                line.what,
                unit_price(line.unit_price),
                line.unit,
                mark(line.unconfirmed),
                quantity(&line.quantity)
            );
        }
    }
    if !estimate.unpriced.is_empty() {
        println!("\nNo price in prices/aws.yaml for: {}", estimate.unpriced.join(", "));
    }
    if estimate.lines.iter().any(|l| l.unconfirmed) {
        println!("\n* a price not confirmed from a primary source (see prices/aws.yaml)");
    }
    println!("\nNot included: taxes, the free tier, data transfer out, support, savings plans and reserved prices.");
    Ok(())
}

/// A unit price as the price file gives it, with at least cents: `$0.045`, `$0.10`.
fn unit_price(price: f64) -> String {
    let text = price.to_string();
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals < 2 {
        format!("${price:.2}")
    } else {
        format!("${text}")
    }
}

/// At most two decimals, without trailing zeros.
fn round(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
