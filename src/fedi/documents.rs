//! The JSON documents other servers read: WebFinger, NodeInfo, the actors,
//! each item as a `Note`, and the collections. Built from the configuration
//! and the feed builder's items, so a post says what the feed item says.

use serde_json::{Value, json};

use crate::config::{Config, Language};
use crate::feed::{self, Item};
use crate::text::escape_html as esc;
use crate::urls;

/// The ActivityStreams audience that means everyone.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

const ACTIVITYSTREAMS: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY: &str = "https://w3id.org/security/v1";

/// `@context` of the actors: ActivityStreams, the security vocabulary for
/// `publicKey`, and the terms Mastodon reads that neither defines.
fn actor_context() -> Value {
    json!([
        ACTIVITYSTREAMS,
        SECURITY,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "Hashtag": "as:Hashtag"
        }
    ])
}

/// `@context` of posts and activities.
fn post_context() -> Value {
    json!([ACTIVITYSTREAMS, {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"}])
}

/// The host part of handles: `[server] public_url`'s host and port.
pub fn handle_host(config: &Config) -> String {
    let url = url::Url::parse(config.server.public_url.as_str()).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or("localhost");
    match url.as_ref().and_then(url::Url::port) {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The key id an account signs with.
pub fn key_id(actor: &str) -> String {
    format!("{actor}#main-key")
}

/// The JRD WebFinger answers for `lang`'s account.
pub fn webfinger(config: &Config, lang: &Language) -> Value {
    let account = lang.account_name();
    let actor = urls::actor_url(config, account);
    json!({
        "subject": format!("acct:{account}@{}", handle_host(config)),
        "aliases": [actor],
        "links": [
            {"rel": "self", "type": "application/activity+json", "href": actor},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": home_url(config, lang)}
        ]
    })
}

/// `/.well-known/nodeinfo`: where the NodeInfo document is.
pub fn nodeinfo_links(config: &Config) -> Value {
    json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": config.server.public_url.join("nodeinfo/2.1")
        }]
    })
}

/// NodeInfo 2.1: what software this is, and how many accounts it has.
pub fn nodeinfo(config: &Config, posts: u64) -> Value {
    let accounts = config.languages.len();
    json!({
        "version": "2.1",
        "software": {
            "name": "kabar",
            "version": env!("CARGO_PKG_VERSION"),
            "homepage": config.site.url.as_str()
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
        "openRegistrations": false,
        "usage": {
            "users": {"total": accounts, "activeMonth": accounts, "activeHalfyear": accounts},
            "localPosts": posts
        },
        "metadata": {"nodeName": config.site.name}
    })
}

fn home_url(config: &Config, lang: &Language) -> String {
    lang.home_url
        .as_ref()
        .unwrap_or(&config.site.url)
        .to_string()
}

/// A language's account: an automated `Service` with the feed's title and
/// description, its keys, inboxes and collections.
pub fn actor(config: &Config, lang: &Language, public_pem: &str) -> Value {
    let account = lang.account_name();
    let id = urls::actor_url(config, account);
    let mut actor = json!({
        "@context": actor_context(),
        "id": id,
        "type": "Service",
        "preferredUsername": account,
        "name": lang.title,
        "summary": format!("<p>{}</p>", esc(&lang.description)),
        "url": home_url(config, lang),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "endpoints": {"sharedInbox": urls::shared_inbox_url(config)},
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "indexable": true,
        "publicKey": {"id": key_id(&id), "owner": id, "publicKeyPem": public_pem}
    });
    if let Some(icon) = &config.site.icon {
        actor["icon"] = json!({"type": "Image", "url": icon.as_str()});
    }
    if let Some(logo) = &config.site.logo {
        actor["image"] = json!({"type": "Image", "url": logo.as_str()});
    }
    actor
}

/// The site's own actor: it signs the fetches Kabar makes (of keys and
/// actors), for servers that answer only signed requests.
pub fn instance_actor(config: &Config, public_pem: &str) -> Value {
    let id = urls::instance_actor_url(config);
    json!({
        "@context": actor_context(),
        "id": id,
        "type": "Application",
        "preferredUsername": handle_host(config),
        "name": config.site.name,
        "url": config.site.url.as_str(),
        "inbox": urls::shared_inbox_url(config),
        "outbox": format!("{id}/outbox"),
        "manuallyApprovesFollowers": true,
        "publicKey": {"id": key_id(&id), "owner": id, "publicKeyPem": public_pem}
    })
}

/// `item` as `lang`'s account posts it: a `Note` Mastodon, Misskey and
/// Pleroma show whole (an `Article` would show only its name and a link;
/// a `summary` would turn into a content warning).
pub fn note(config: &Config, lang: &Language, item: &Item) -> Value {
    let actor = urls::actor_url(config, lang.account_name());
    let content = note_html(config, lang, item);
    let mut note = json!({
        "@context": post_context(),
        "id": urls::note_url(config, lang.account_name(), &item.article_id),
        "type": "Note",
        "attributedTo": actor,
        "published": item.published.to_rfc3339(),
        "url": item.link,
        "to": [PUBLIC],
        "cc": [format!("{actor}/followers")],
        "sensitive": false,
        "content": content,
        "contentMap": {item.lang.clone(): content},
        "attachment": item.image.iter().map(|image| {
            let mut attachment = json!({
                "type": "Image",
                "mediaType": image.mime_type,
                "url": image.url.as_str(),
                "name": image.alt.as_deref().unwrap_or("")
            });
            if let (Some(w), Some(h)) = (image.width, image.height) {
                attachment["width"] = json!(w);
                attachment["height"] = json!(h);
            }
            attachment
        }).collect::<Vec<_>>(),
        "tag": hashtags(config, item).map(|(name, href)| {
            json!({"type": "Hashtag", "name": format!("#{name}"), "href": href})
        }).collect::<Vec<_>>()
    });
    if item.updated > item.published {
        note["updated"] = json!(item.updated.to_rfc3339());
    }
    note
}

/// The item's tags as hashtags: each one's name, and where it leads (its tag
/// feed in the item's language, else the language's page).
fn hashtags<'a>(config: &'a Config, item: &'a Item) -> impl Iterator<Item = (String, String)> + 'a {
    item.tags
        .iter()
        .zip(&item.tag_feeds)
        .filter_map(move |(tag, feeds)| {
            let href = match feeds {
                Some(feeds) => feeds.rss.clone(),
                None => config
                    .language(&item.lang)
                    .map_or_else(|| config.site.url.to_string(), |l| home_url(config, l)),
            };
            Some((hashtag(tag)?, href))
        })
}

/// A tag as a hashtag name: its letters and digits, each word capitalised
/// and run together ("ekonomi digital" → "EkonomiDigital"); `None` when
/// nothing is left.
pub fn hashtag(tag: &str) -> Option<String> {
    let name: String = tag
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The post's HTML, in the tags Mastodon keeps: the title, the summary, the
/// article's link, the hashtags, and for a translation the localized notice
/// with the link to the Indonesian original.
fn note_html(config: &Config, lang: &Language, item: &Item) -> String {
    let mut html = format!(
        "<p><strong>{}</strong></p><p>{}</p><p><a href=\"{link}\">{link}</a></p>",
        esc(&item.title),
        esc(&item.summary),
        link = esc(&item.link),
    );
    let tags: Vec<String> = hashtags(config, item)
        .map(|(name, href)| {
            format!(
                "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                esc(&href),
                esc(&name)
            )
        })
        .collect();
    if !tags.is_empty() {
        html.push_str(&format!("<p>{}</p>", tags.join(" ")));
    }
    if let Some(original) = &item.original {
        let notice = feed::notice(lang, item.translation).unwrap_or_default();
        html.push_str(&format!(
            "<p><em>{}</em> <a href=\"{}\">{}</a></p>",
            esc(notice),
            esc(&original.url),
            esc(lang.original_link.as_deref().unwrap_or(&original.url)),
        ));
    }
    html
}

/// `activity` of `kind` by `actor` with `object`, addressed like the post.
pub fn activity(kind: &str, id: String, actor: &str, object: Value) -> Value {
    let mut activity = json!({
        "@context": post_context(),
        "id": id,
        "type": kind,
        "actor": actor,
        "to": [PUBLIC],
        "cc": [format!("{actor}/followers")],
        "object": object
    });
    if kind == "Create"
        && let Some(published) = activity["object"].get("published").cloned()
    {
        activity["published"] = published;
    }
    activity
}

/// `Accept` of a `Follow` (the follow activity as it was sent).
pub fn accept(config: &Config, lang: &Language, follow: &Value, follow_id: &str) -> Value {
    let actor = urls::actor_url(config, lang.account_name());
    let digest = ring::digest::digest(&ring::digest::SHA256, follow_id.as_bytes());
    let hash: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "@context": ACTIVITYSTREAMS,
        "id": format!("{actor}#accepts/{hash}"),
        "type": "Accept",
        "actor": actor,
        "object": follow
    })
}

/// The followers collection: how many, not who.
pub fn followers(config: &Config, lang: &Language, count: u64) -> Value {
    let actor = urls::actor_url(config, lang.account_name());
    json!({
        "@context": ACTIVITYSTREAMS,
        "id": format!("{actor}/followers"),
        "type": "OrderedCollection",
        "totalItems": count
    })
}

/// The outbox: the language feed's items as `Create`s, newest first, in
/// pages of `per_page`; `page` 0 is the collection itself.
pub fn outbox(
    config: &Config,
    lang: &Language,
    items: &[Item],
    page: usize,
    per_page: usize,
) -> Option<Value> {
    let actor = urls::actor_url(config, lang.account_name());
    let id = format!("{actor}/outbox");
    let pages = items.len().div_ceil(per_page).max(1);
    if page == 0 {
        return Some(json!({
            "@context": ACTIVITYSTREAMS,
            "id": id,
            "type": "OrderedCollection",
            "totalItems": items.len(),
            "first": format!("{id}?page=1"),
            "last": format!("{id}?page={pages}")
        }));
    }
    if page > pages {
        return None;
    }
    let ordered: Vec<Value> = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|item| {
            let note = note(config, lang, item);
            let note_id = note["id"].as_str().unwrap_or_default().to_owned();
            create(&actor, &note_id, strip_context(note))
        })
        .collect();
    let mut doc = json!({
        "@context": post_context(),
        "id": format!("{id}?page={page}"),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "orderedItems": ordered
    });
    if page < pages {
        doc["next"] = json!(format!("{id}?page={}", page + 1));
    }
    if page > 1 {
        doc["prev"] = json!(format!("{id}?page={}", page - 1));
    }
    Some(doc)
}

/// The `Create` of a post (its id is the post's, plus `/create`).
pub fn create(actor: &str, note_id: &str, note: Value) -> Value {
    activity("Create", format!("{note_id}/create"), actor, note)
}

/// An object without its `@context`, for embedding in an activity.
pub fn strip_context(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("@context");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_hashtag_names() {
        assert_eq!(
            hashtag("ekonomi digital").as_deref(),
            Some("EkonomiDigital")
        );
        assert_eq!(hashtag("Piala AFF 2026").as_deref(), Some("PialaAFF2026"));
        assert_eq!(hashtag("日本").as_deref(), Some("日本"));
        assert_eq!(hashtag("e-KTP").as_deref(), Some("EKTP"));
        assert_eq!(hashtag(" -- "), None);
    }
}
