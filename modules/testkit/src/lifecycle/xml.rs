//! Hand-rolled XML helpers for the query-protocol answers the layer rewrites (moto's XML is
//! regular enough: no attributes on the elements read, no CDATA).

/// The text of the first `<tag>...</tag>`.
pub(super) fn tag_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(&xml[start..end])
}

/// `block` with the first `<tag>`'s text set to `value`.
pub(super) fn set_tag_text(block: &str, tag: &str, value: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let Some(s) = block.find(&open).map(|i| i + open.len()) else {
        return block.to_owned();
    };
    let Some(e) = block[s..].find(&close).map(|i| s + i) else {
        return block.to_owned();
    };
    format!("{}{value}{}", &block[..s], &block[e..])
}

/// `block` without its first `<tag>...</tag>` element.
pub(super) fn remove_element(block: &str, tag: &str) -> String {
    match element_range(block, tag) {
        Some((s, e)) => {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            format!("{}{}", &block[..s - open.len()], &block[e + close.len()..])
        }
        None => block.to_owned(),
    }
}

/// The inner text of the first `<tag>` element, nested elements of the same name included.
pub(super) fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    element_range(xml, tag).map(|(s, e)| &xml[s..e])
}

pub(super) fn element_range(xml: &str, tag: &str) -> Option<(usize, usize)> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = matching_close(xml, start, tag)?;
    Some((start, end))
}

/// Where the `</tag>` closing an element whose content starts at `from` begins.
fn matching_close(xml: &str, from: usize, tag: &str) -> Option<usize> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut depth = 1;
    let mut at = from;
    loop {
        let next_open = xml[at..].find(&open).map(|i| at + i);
        let next_close = at + xml[at..].find(&close)?;
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + open.len();
            }
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(next_close);
                }
                at = next_close + close.len();
            }
        }
    }
}

/// The inner ranges of the top-level `<item>` elements of the first `<container>` element.
pub(super) fn items(xml: &str, container: &str, item: &str) -> Vec<(usize, usize)> {
    let Some((cs, ce)) = element_range(xml, container) else {
        return Vec::new();
    };
    let open = format!("<{item}>");
    let close = format!("</{item}>");
    let mut out = Vec::new();
    let mut at = cs;
    while let Some(i) = xml[at..ce].find(&open) {
        let start = at + i + open.len();
        let Some(end) = matching_close(xml, start, item) else {
            break;
        };
        out.push((start, end));
        at = end + close.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_items_skip_nested_members() {
        let xml = "<R><LoadBalancers><member><A>1</A><AvailabilityZones><member>z</member></AvailabilityZones><State><Code>active</Code></State></member><member><A>2</A></member></LoadBalancers></R>";
        let found: Vec<&str> = items(xml, "LoadBalancers", "member")
            .into_iter()
            .map(|(s, e)| &xml[s..e])
            .collect();
        assert_eq!(found.len(), 2);
        assert!(found[0].ends_with("</State>"), "{}", found[0]);
        assert_eq!(tag_text(found[1], "A"), Some("2"));
        assert_eq!(
            remove_element(
                "<x><Endpoint><Address>a</Address></Endpoint><y/></x>",
                "Endpoint"
            ),
            "<x><y/></x>"
        );
        assert_eq!(
            set_tag_text("<S>available</S>", "S", "creating"),
            "<S>creating</S>"
        );
    }
}
