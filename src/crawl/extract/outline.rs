//! The main-content decision: which part of a page is its content, and what inside that part
//! is not.
//!
//! The page is laid out once in document order ([`Outline`]): each node's subtree size, and
//! what its subtree holds (text, link text, commas, paragraphs, images, list items, inputs),
//! counted in non-blank chars. Three steps follow, each a linear pass:
//! 1. **Discard** what is never content wherever it is: page chrome (`nav`, `aside`, `footer`,
//!    site headers, forms), hidden elements, landmark roles that are not content, and blocks
//!    whose id or class names boilerplate (share bars, related links, bylines, comments…;
//!    [`DISCARD_WORDS`]) — unless such a block holds most of the page's text (a layout wrapper
//!    named `has-sidebar`).
//! 2. **Choose** the content root as Readability does: every text block of 25 chars or more
//!    scores 1 + its commas + a point per 100 chars (at most 3), given to its parent in full, to
//!    its grandparent halved and to three more ancestors in thirds; an ancestor's score starts
//!    from its tag and its id/class words ([`POSITIVE`], [`NEGATIVE`]) and is scaled by the
//!    share of its text that is not link text. The best scorer (or its parent, when that scores
//!    higher) is the root; siblings that score near it, or are plain paragraphs, join it, with
//!    the headings above them. A `<main>` (or an only `<article>`) narrows the search to
//!    itself; a `<main>` holding code (documentation: API items, listings) is the root whole.
//! 3. **Prune** inside the root, innermost first, the blocks that are lists of links, image
//!    strips, forms or short link-heavy lines rather than prose (Readability's "clean
//!    conditionally").

use std::rc::Rc;

use markup5ever_rcdom::{Node, NodeData};

use super::{SKIPPED_TAGS, attr, tag};

/// Id/class words (see [`name_parts`]) that mark a block as boilerplate wherever it is.
pub(super) const DISCARD_WORDS: &[&str] = &[
    "ad",
    "ads",
    "advert",
    "advertisement",
    "author",
    "banner",
    "breadcrumb",
    "breadcrumbs",
    "byline",
    "caption",
    "comment",
    "comments",
    "consent",
    "cookie",
    "credit",
    "credits",
    "date",
    "dateline",
    "disqus",
    "email",
    "modal",
    "newsletter",
    "outbrain",
    "pagination",
    "popup",
    "print",
    "promo",
    "related",
    "share",
    "sharing",
    "sidebar",
    "social",
    "sponsor",
    "sponsored",
    "subscribe",
    "taboola",
    "tags",
    "time",
    "timestamp",
    "toolbar",
    "trending",
];

/// Id/class words that keep a block named with a [`DISCARD_WORDS`] word
/// (`article-body pagination-first`; Readability's).
const MAYBE_CONTENT: &[&str] = &["article", "body", "column", "content", "main"];

/// Id/class words that make a block more likely to be the content (Readability's).
const POSITIVE: &[&str] = &[
    "article", "blog", "body", "content", "entry", "hentry", "main", "page", "post", "story",
    "text",
];

/// Id/class words that make a block less likely to be the content (Readability's).
const NEGATIVE: &[&str] = &[
    "ad",
    "banner",
    "combx",
    "comment",
    "contact",
    "footer",
    "gdpr",
    "hidden",
    "masthead",
    "media",
    "meta",
    "outbrain",
    "promo",
    "related",
    "scroll",
    "share",
    "shopping",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "sponsor",
    "tags",
    "widget",
];

/// Landmark roles that are never the content.
const CHROME_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
    "dialog",
    "alert",
];

/// Elements whose text belongs to them rather than to an enclosing block.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// A `<form>` with more text than this wraps page content rather than being a form.
pub(super) const FORM_WRAPPER_MIN_CHARS: u32 = 500;

/// Shortest text block (non-blank chars) that scores.
const MIN_PARAGRAPH_CHARS: u32 = 25;

/// Text outside links (non-blank chars) that makes a block prose whatever its links.
const PROSE_CHARS: u32 = 200;

/// Text outside links (non-blank chars) below which a paragraph of links is a line of links.
const LINK_LINE_CHARS: u32 = 40;

/// How many ancestors of a text block share its score.
const SCORED_ANCESTORS: usize = 5;

/// What a subtree holds. Text is counted in non-blank chars.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    pub text: u32,
    /// Text inside `<a href>`.
    pub link_text: u32,
    pub commas: u32,
    pub paragraphs: u32,
    pub images: u32,
    pub list_items: u32,
    pub inputs: u32,
    pub embeds: u32,
    /// Text inside `h1`–`h6`.
    pub heading_text: u32,
    pub headings: u32,
    /// `<pre>` elements.
    pub code: u32,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.text += other.text;
        self.link_text += other.link_text;
        self.commas += other.commas;
        self.paragraphs += other.paragraphs;
        self.images += other.images;
        self.list_items += other.list_items;
        self.inputs += other.inputs;
        self.embeds += other.embeds;
        self.heading_text += other.heading_text;
        self.headings += other.headings;
        self.code += other.code;
    }

    fn sub(&mut self, other: &Counts) {
        self.text -= other.text;
        self.link_text -= other.link_text;
        self.commas -= other.commas;
        self.paragraphs -= other.paragraphs;
        self.images -= other.images;
        self.list_items -= other.list_items;
        self.inputs -= other.inputs;
        self.embeds -= other.embeds;
        self.heading_text -= other.heading_text;
        self.headings -= other.headings;
        self.code -= other.code;
    }

    fn link_density(&self) -> f64 {
        if self.text == 0 {
            0.0
        } else {
            self.link_text as f64 / self.text as f64
        }
    }
}

/// A block's own text: non-blank chars and commas.
#[derive(Debug, Clone, Copy, Default)]
struct OwnText {
    text: u32,
    link_text: u32,
    commas: u32,
}

const NO_PARENT: usize = usize::MAX;

/// A document in document order, with what each subtree holds.
pub(super) struct Outline {
    pub nodes: Vec<Rc<Node>>,
    parents: Vec<usize>,
    /// Nodes in the subtree, the node included: `nodes[i..i + sizes[i]]` is that subtree.
    pub sizes: Vec<usize>,
    /// What the subtree holds, discarded subtrees left out.
    pub counts: Vec<Counts>,
    /// For a block: its own text (outside nested blocks).
    own: Vec<OwnText>,
    /// Whether the node is inside an `<article>` or main element.
    pub in_article: Vec<bool>,
    /// Whether the node is inside a `<pre>` or `<code>`: code is content as written (a
    /// `<span class="comment">` there is a comment in the code, a `<div>` a line of it).
    in_code: Vec<bool>,
    /// Whether the node is inside an `h1`–`h6` (a signature's `where` clause there is part
    /// of the heading).
    in_heading: Vec<bool>,
    /// Whether the root is a `<main>` holding code: documentation, where a line of links
    /// (`Source code: Lib/json/__init__.py`) is content.
    technical: bool,
    /// Whether the node (with its subtree) is not content.
    pub discarded: Vec<bool>,
    /// Content scores, once the root is chosen (`None`: not a candidate).
    scores: Vec<Option<f64>>,
}

impl Outline {
    /// Lays out the document under `root`. Subtrees of [`SKIPPED_TAGS`] other than `<form>`,
    /// `<header>`, `<nav>`, `<aside>` and `<footer>` (discarded later, by rule) are not entered.
    pub fn of(root: &Rc<Node>) -> Self {
        struct Frame {
            node: Rc<Node>,
            parent: usize,
            block: usize,
            in_link: bool,
            in_heading: bool,
            in_article: bool,
            in_code: bool,
        }
        let mut outline = Outline {
            nodes: Vec::new(),
            parents: Vec::new(),
            sizes: Vec::new(),
            counts: Vec::new(),
            own: Vec::new(),
            in_article: Vec::new(),
            in_code: Vec::new(),
            in_heading: Vec::new(),
            technical: false,
            discarded: Vec::new(),
            scores: Vec::new(),
        };
        let mut stack = vec![Frame {
            node: Rc::clone(root),
            parent: NO_PARENT,
            block: NO_PARENT,
            in_link: false,
            in_heading: false,
            in_article: false,
            in_code: false,
        }];
        while let Some(frame) = stack.pop() {
            let index = outline.nodes.len();
            let mut counts = Counts::default();
            let name = tag(&frame.node);
            match &frame.node.data {
                NodeData::Text { contents } => {
                    (counts.text, counts.commas) = count_text(&contents.borrow());
                    if frame.in_link {
                        counts.link_text = counts.text;
                    }
                    if frame.in_heading {
                        counts.heading_text = counts.text;
                    }
                }
                NodeData::Element { .. } => match name.unwrap_or_default() {
                    "p" => counts.paragraphs = 1,
                    "img" => counts.images = 1,
                    "li" => counts.list_items = 1,
                    "input" => counts.inputs = 1,
                    "iframe" | "embed" | "object" | "video" => counts.embeds = 1,
                    "pre" => counts.code = 1,
                    name if is_heading(name) => counts.headings = 1,
                    _ => {}
                },
                _ => {}
            }
            let is_block = name.is_some_and(|name| BLOCKS.contains(&name));
            let block = if is_block { index } else { frame.block };
            if !is_block && frame.block != NO_PARENT {
                let own = &mut outline.own[frame.block];
                own.text += counts.text;
                own.link_text += counts.link_text;
                own.commas += counts.commas;
            }
            let enter = match name {
                Some("form" | "header" | "nav" | "aside" | "footer") => true,
                Some(name) => !SKIPPED_TAGS.contains(&name),
                None => true,
            };
            if enter {
                let in_link =
                    frame.in_link || (name == Some("a") && attr(&frame.node, "href").is_some());
                let in_heading = frame.in_heading || name.is_some_and(is_heading);
                let in_article =
                    frame.in_article || name == Some("article") || is_main(&frame.node);
                let in_code = frame.in_code || matches!(name, Some("pre" | "code"));
                let children = frame.node.children.borrow();
                stack.extend(children.iter().rev().map(|child| Frame {
                    node: Rc::clone(child),
                    parent: index,
                    block,
                    in_link,
                    in_heading,
                    in_article,
                    in_code,
                }));
            }
            outline.nodes.push(frame.node);
            outline.parents.push(frame.parent);
            outline.counts.push(counts);
            outline.own.push(OwnText::default());
            outline.in_article.push(frame.in_article);
            outline.in_code.push(frame.in_code);
            outline.in_heading.push(frame.in_heading);
            outline.discarded.push(false);
        }
        // A paragraph is a `<p>`, or another block of prose with text of its own (a `<div>` of
        // text and `<br>`s, as Readability turns them into paragraphs).
        for i in 0..outline.nodes.len() {
            let prose_block = tag(&outline.nodes[i]).is_some_and(|name| {
                BLOCKS.contains(&name)
                    && !matches!(name, "p" | "li" | "td" | "th" | "tr" | "dt" | "dd")
                    && !is_heading(name)
            });
            if prose_block && outline.own[i].text >= MIN_PARAGRAPH_CHARS {
                outline.counts[i].paragraphs = 1;
            }
        }
        outline.sizes = vec![1; outline.nodes.len()];
        for i in (1..outline.nodes.len()).rev() {
            let parent = outline.parents[i];
            if parent != NO_PARENT {
                outline.sizes[parent] += outline.sizes[i];
                let counts = outline.counts[i];
                outline.counts[parent].add(&counts);
            }
        }
        outline
    }

    fn end(&self, i: usize) -> usize {
        i + self.sizes[i]
    }

    /// Marks `i`'s subtree as not content and takes what it holds out of its ancestors.
    fn discard(&mut self, i: usize) {
        self.discarded[i] = true;
        let counts = self.counts[i];
        let mut parent = self.parents[i];
        while parent != NO_PARENT {
            self.counts[parent].sub(&counts);
            parent = self.parents[parent];
        }
    }

    /// Step 1: discards what is never content (see the module's notes).
    pub fn discard_boilerplate(&mut self) {
        let page_text = self.counts[0].text;
        let mut i = 0;
        while i < self.nodes.len() {
            if !self.in_code[i] && self.never_content(i, page_text) {
                self.discard(i);
                i = self.end(i);
            } else {
                i += 1;
            }
        }
    }

    fn never_content(&self, i: usize, page_text: u32) -> bool {
        let node = &self.nodes[i];
        let Some(name) = tag(node) else {
            return false;
        };
        let chrome = match name {
            "nav" | "aside" | "footer" | "dialog" => true,
            // An image's caption is mostly a credit (its alt text stays in the markdown); a
            // code listing's caption says what the code is.
            "figcaption" => {
                let parent = self.parents[i];
                parent == NO_PARENT || self.counts[parent].code == 0
            }
            "header" => !(self.in_article[i] && self.has_heading(i)),
            "form" => self.counts[i].text <= FORM_WRAPPER_MIN_CHARS,
            "html" | "body" | "main" | "article" => return false,
            _ => false,
        };
        if is_hidden(node) {
            return true;
        }
        // Whatever its name, a block with most of the page's text is a layout wrapper.
        let wrapper = self.counts[i].text * 2 > page_text;
        let role = attr(node, "role")
            .is_some_and(|role| CHROME_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()));
        !wrapper && (chrome || role || names_boilerplate(node))
    }

    /// Whether an `h1`–`h6` is below `nodes[i]`.
    pub fn has_heading(&self, i: usize) -> bool {
        self.counts[i].headings > 0
    }

    /// Step 2: the content root. Siblings of the best scorer that did not join it are
    /// discarded.
    pub fn choose_root(&mut self) -> usize {
        let scope = self.scope();
        self.scores = self.scores(scope);
        // A `<main>` that holds code is a technical page: API items, listings and prose are
        // all content, spread over many blocks rather than in one best block.
        if is_main(&self.nodes[scope]) && self.counts[scope].code > 0 {
            self.technical = true;
            return scope;
        }
        let scores = &self.scores;
        let best = (scope..self.end(scope))
            .filter(|&i| scores[i].is_some() && !self.discarded[i])
            .max_by(|&a, &b| {
                scores[a]
                    .unwrap_or_default()
                    .total_cmp(&scores[b].unwrap_or_default())
            });
        let Some(mut best) = best else {
            // No paragraph anywhere: the longest article, else all of it.
            return self.largest_article(scope).unwrap_or(scope);
        };
        best = self.common_ancestor_of_peers(best, scope);
        // A parent that scores higher holds the content together (Readability's walk up).
        let mut last = scores[best].unwrap_or_default();
        let threshold = last / 3.0;
        let mut parent = self.parents[best];
        while parent != NO_PARENT && parent >= scope {
            if let Some(score) = scores[parent] {
                if score < threshold {
                    break;
                }
                if score > last {
                    best = parent;
                    break;
                }
                last = score;
            }
            if parent == scope {
                break;
            }
            parent = self.parents[parent];
        }
        // An only child stands for its parent.
        while best != scope {
            let parent = self.parents[best];
            if parent == NO_PARENT || self.counts[parent].text != self.counts[best].text {
                break;
            }
            best = parent;
        }
        if best == scope {
            return scope;
        }
        // Siblings that score near the best, or read as prose, join it.
        let best_score = scores[best].unwrap_or_default();
        let threshold = (best_score * 0.2).max(10.0);
        let parent = self.parents[best];
        let best_class = attr(&self.nodes[best], "class").unwrap_or_default();
        let mut siblings: Vec<(usize, bool)> = Vec::new();
        for sibling in self.children(parent) {
            if !matches!(self.nodes[sibling].data, NodeData::Element { .. })
                || self.discarded[sibling]
            {
                continue;
            }
            if sibling == best {
                siblings.push((sibling, true));
                continue;
            }
            let mut score = scores[sibling].unwrap_or(f64::MIN);
            if !best_class.is_empty()
                && attr(&self.nodes[sibling], "class").is_some_and(|class| class == best_class)
            {
                score += best_score * 0.2;
            }
            let counts = &self.counts[sibling];
            let prose = || {
                let text = self.collapsed(sibling);
                let density = counts.link_density();
                (counts.text > 80 && density < 0.25)
                    || (counts.text > 0
                        && density == 0.0
                        && (text.ends_with(['.', '!', '?']) || text.contains(". ")))
            };
            let block = matches!(
                tag(&self.nodes[sibling]),
                Some("p" | "pre" | "blockquote" | "ul" | "ol" | "h2" | "h3" | "h4" | "figure")
            );
            siblings.push((sibling, score >= threshold || (block && prose())));
        }
        // A heading (or a block that is mostly one) joins with the content it heads.
        let mut next_joins = false;
        for (sibling, join) in siblings.iter_mut().rev() {
            let counts = &self.counts[*sibling];
            if !*join && next_joins && counts.headings > 0 && counts.heading_text * 2 >= counts.text
            {
                *join = true;
            }
            next_joins = *join;
        }
        if siblings.iter().filter(|(_, join)| *join).count() < 2 {
            return best;
        }
        for (sibling, join) in siblings {
            let counts = &self.counts[sibling];
            if !join && (counts.text > 0 || counts.images > 0) {
                self.discard(sibling);
            }
        }
        parent
    }

    /// Readability's "alternative candidates": when three or more of the five best scorers
    /// score at least 3/4 of the best (articles split in cards, one paragraph each), the
    /// nearest ancestor of the best that holds three of them.
    fn common_ancestor_of_peers(&self, best: usize, scope: usize) -> usize {
        let top = self.scores[best].unwrap_or_default();
        let mut ranked: Vec<usize> = (scope..self.end(scope))
            .filter(|&i| self.scores[i].is_some() && !self.discarded[i] && i != best)
            .collect();
        ranked.sort_by(|&a, &b| {
            self.scores[b]
                .unwrap_or_default()
                .total_cmp(&self.scores[a].unwrap_or_default())
        });
        let peers: Vec<usize> = ranked
            .into_iter()
            .take(4)
            .filter(|&i| self.scores[i].unwrap_or_default() >= top * 0.75)
            .collect();
        if peers.len() < 3 {
            return best;
        }
        let mut ancestor = self.parents[best];
        while ancestor != NO_PARENT && ancestor >= scope {
            let inside = peers
                .iter()
                .filter(|&&peer| peer > ancestor && peer < self.end(ancestor))
                .count();
            if inside >= 3 {
                return ancestor;
            }
            if ancestor == scope {
                break;
            }
            ancestor = self.parents[ancestor];
        }
        best
    }

    /// Where the content is looked for: the first `<main>` (or `role="main"`) with text, else
    /// the only `<article>` with text, else the whole document.
    fn scope(&self) -> usize {
        let dead = self.dead();
        let live = |i: &usize| self.counts[*i].text > 0 && !dead[*i];
        if let Some(main) = (0..self.nodes.len())
            .filter(live)
            .find(|&i| is_main(&self.nodes[i]))
        {
            return main;
        }
        let articles: Vec<usize> = (0..self.nodes.len())
            .filter(live)
            .filter(|&i| tag(&self.nodes[i]) == Some("article"))
            .collect();
        if let [article] = articles[..] {
            return article;
        }
        (0..self.nodes.len())
            .find(|&i| tag(&self.nodes[i]) == Some("body"))
            .unwrap_or(0)
    }

    /// The `<article>` under `scope` with the most text, if one has text.
    fn largest_article(&self, scope: usize) -> Option<usize> {
        let dead = self.dead();
        (scope..self.end(scope))
            .filter(|&i| !dead[i] && self.counts[i].text > 0)
            .filter(|&i| tag(&self.nodes[i]) == Some("article"))
            .max_by_key(|&i| (self.counts[i].text, std::cmp::Reverse(i)))
    }

    /// Whether each node is discarded or inside a discarded node.
    fn dead(&self) -> Vec<bool> {
        let mut dead = self.discarded.clone();
        for i in 0..dead.len() {
            let parent = self.parents[i];
            if parent != NO_PARENT && dead[parent] {
                dead[i] = true;
            }
        }
        dead
    }

    /// Readability's content scores of the elements under `scope` (`None`: not a candidate).
    fn scores(&self, scope: usize) -> Vec<Option<f64>> {
        let mut scores: Vec<Option<f64>> = vec![None; self.nodes.len()];
        let mut i = scope;
        let end = self.end(scope);
        while i < end {
            if self.discarded[i] {
                i = self.end(i);
                continue;
            }
            let own = &self.own[i];
            if own.text >= MIN_PARAGRAPH_CHARS
                && tag(&self.nodes[i]).is_some_and(scores_as_paragraph)
            {
                // A line that is mostly a link (a teaser, a menu entry) is not prose: thousands
                // of them must not outweigh the article.
                let prose = 1.0 - own.link_text as f64 / own.text as f64;
                let score = (1.0 + own.commas as f64 + (own.text / 100).min(3) as f64) * prose;
                // Text right in a container is a paragraph of that container (Readability
                // wraps it in a `<p>`).
                let container = tag(&self.nodes[i]).is_some_and(is_container);
                let mut ancestor = if container { i } else { self.parents[i] };
                let mut level = 0;
                while ancestor != NO_PARENT && level < SCORED_ANCESTORS && ancestor >= scope {
                    let slot = scores[ancestor].get_or_insert_with(|| self.initial_score(ancestor));
                    let divider = match level {
                        0 => 1.0,
                        1 => 2.0,
                        _ => level as f64 * 3.0,
                    };
                    *slot += score / divider;
                    if ancestor == scope {
                        break;
                    }
                    ancestor = self.parents[ancestor];
                    level += 1;
                }
            }
            i += 1;
        }
        for (i, score) in scores.iter_mut().enumerate() {
            if let Some(score) = score {
                *score *= 1.0 - self.counts[i].link_density();
            }
        }
        scores
    }

    fn initial_score(&self, i: usize) -> f64 {
        let node = &self.nodes[i];
        let by_tag = match tag(node).unwrap_or_default() {
            "div" | "article" | "main" | "section" => 5.0,
            "pre" | "td" | "blockquote" => 3.0,
            "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
            _ => 0.0,
        };
        by_tag + class_weight(node)
    }

    /// Children of `i` in document order.
    fn children(&self, i: usize) -> Vec<usize> {
        let mut children = Vec::new();
        let mut child = i + 1;
        while child < self.end(i) {
            children.push(child);
            child = self.end(child);
        }
        children
    }

    /// Step 3: discards, innermost first, the blocks under `root` that are not prose.
    pub fn prune(&mut self, root: usize) {
        let end = self.end(root);
        let root_text = self.counts[root].text;
        let dead = self.dead();
        // What was pruned below each node, taken out of its counts when its turn comes (its
        // descendants come first): one pass, however deep the page.
        let mut pruned = vec![Counts::default(); end - root];
        for i in (root + 1..end).rev() {
            let below = pruned[i - root];
            self.counts[i].sub(&below);
            let parent = self.parents[i] - root;
            if dead[i] || self.in_code[i] || self.in_heading[i] {
                continue;
            }
            let counts = &self.counts[i];
            // Pruning takes out small pieces: a block with most of the content stays.
            let major = counts.text * 2 > root_text && counts.link_density() < 0.5;
            if !major && self.not_prose(i) {
                self.discarded[i] = true;
                let counts = self.counts[i];
                pruned[parent].add(&counts);
            }
            pruned[parent].add(&below);
        }
        let below = pruned[0];
        self.counts[root].sub(&below);
    }

    /// Readability's "clean conditionally" for one block.
    fn not_prose(&self, i: usize) -> bool {
        let node = &self.nodes[i];
        let Some(name) = tag(node) else {
            return false;
        };
        let is_list = matches!(name, "ul" | "ol" | "dl");
        if !matches!(
            name,
            "div" | "section" | "table" | "ul" | "ol" | "dl" | "form" | "fieldset" | "figure"
        ) {
            // A paragraph that is a line of links ("Read more: …, …").
            let counts = &self.counts[i];
            return name == "p"
                && !self.technical
                && counts.link_density() > 0.5
                && counts.text - counts.link_text < LINK_LINE_CHARS;
        }
        let counts = &self.counts[i];
        if counts.text == 0 {
            // Images and figures without text stay: htmd keeps them as images.
            return counts.images == 0 && !self.holds_code(i);
        }
        let weight = class_weight(node);
        // A list's own score starts below zero (it is rarely the root), which says nothing
        // about whether it is content: only a name that is negative counts here.
        if weight < 0.0 && weight + self.scores[i].unwrap_or_default() < 0.0 {
            return true;
        }
        if counts.commas >= 10 || self.holds_code(i) {
            return false;
        }
        let density = counts.link_density();
        let paragraphs = counts.paragraphs as f64;
        let images = counts.images as f64;
        let list_items = counts.list_items as f64 - 100.0;
        let heading_density = counts.heading_text as f64 / counts.text as f64;
        let figure = name == "figure";
        // Mostly links: a list of them, a heading that is one (a teaser), a short line with
        // a few. A heading with some (an API signature's types) and prose with many are not.
        let links_heavy = if is_list {
            density > 0.7
        } else if heading_density >= 0.5 {
            density > 0.9
        } else {
            density > 0.5
                || (weight < 25.0 && density > 0.33 && counts.text - counts.link_text < PROSE_CHARS)
        };
        (images > 1.0 && paragraphs / images < 0.5 && !figure)
            || (!is_list && list_items > paragraphs)
            || (counts.inputs as f64 > (paragraphs / 3.0).floor())
            || (!is_list
                && counts.headings == 0
                && counts.text < MIN_PARAGRAPH_CHARS
                && (counts.images == 0 || counts.images > 2)
                && !figure
                && !self.collapsed(i).ends_with(['.', '!', '?']))
            || links_heavy
            || (counts.embeds == 1 && counts.text < 75)
            || counts.embeds > 1
    }

    fn holds_code(&self, i: usize) -> bool {
        self.counts[i].code > 0
    }

    /// The text under `i` (discarded parts included), whitespace collapsed, at most 300 chars.
    fn collapsed(&self, i: usize) -> String {
        super::collapsed_text(&self.nodes[i], 300)
    }
}

/// The characters of `text` that are not whitespace (as `char::is_whitespace` says), and the
/// commas among them (`,` `，` `、` `،`). Most text is ASCII: counted a byte at a time.
pub(super) fn count_text(text: &str) -> (u32, u32) {
    if text.is_ascii() {
        let bytes = text.as_bytes();
        // ASCII whitespace for `char::is_whitespace`: \t \n \x0B \x0C \r and the space.
        let blank = bytes
            .iter()
            .filter(|&&b| b == b' ' || (b'\t'..=b'\r').contains(&b))
            .count();
        let commas = bytes.iter().filter(|&&b| b == b',').count();
        return ((bytes.len() - blank) as u32, commas as u32);
    }
    let (mut chars, mut commas) = (0, 0);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        chars += 1;
        commas += u32::from(matches!(c, ',' | '，' | '、' | '،'));
    }
    (chars, commas)
}

/// Whether `node` is a `<main>` or has `role="main"`.
pub(super) fn is_main(node: &Node) -> bool {
    tag(node) == Some("main")
        || attr(node, "role").is_some_and(|role| role.trim().eq_ignore_ascii_case("main"))
}

/// Blocks whose own text scores for their ancestors (Readability's, with the containers whose
/// loose text it wraps in paragraphs); list items and table headers do not.
fn scores_as_paragraph(name: &str) -> bool {
    matches!(
        name,
        "p" | "td" | "pre" | "blockquote" | "h2" | "h3" | "h4" | "h5" | "h6"
    ) || is_container(name)
}

/// Blocks that hold other blocks, and whose loose text Readability wraps in a paragraph.
fn is_container(name: &str) -> bool {
    matches!(
        name,
        "div" | "section" | "article" | "main" | "body" | "form"
    )
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// Whether an element is hidden: `hidden`, `aria-hidden="true"`, or `display: none` /
/// `visibility: hidden` in its style.
fn is_hidden(node: &Node) -> bool {
    if attr(node, "hidden").is_some() {
        return true;
    }
    if attr(node, "aria-hidden").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return true;
    }
    attr(node, "style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// Whether an element's id or class names it as boilerplate (see [`DISCARD_WORDS`]) and
/// not as content ([`MAYBE_CONTENT`]: `article-body pagination-first` is content).
pub(super) fn names_boilerplate(node: &Node) -> bool {
    let names = |words: &[&str]| {
        ["id", "class"].iter().any(|name| {
            attr(node, name).is_some_and(|value| {
                name_parts(&value)
                    .iter()
                    .any(|part| words.contains(&part.as_str()))
            })
        })
    };
    names(DISCARD_WORDS) && !names(MAYBE_CONTENT)
}

/// Readability's class weight: +25 for a positive id or class, −25 for a negative one.
fn class_weight(node: &Node) -> f64 {
    let mut weight = 0.0;
    for name in ["class", "id"] {
        let Some(value) = attr(node, name) else {
            continue;
        };
        let parts = name_parts(&value);
        if parts.iter().any(|part| NEGATIVE.contains(&part.as_str())) {
            weight -= 25.0;
        }
        if parts.iter().any(|part| POSITIVE.contains(&part.as_str())) {
            weight += 25.0;
        }
    }
    weight
}

/// The words of an id or class list, lowercased: split at spaces, `-`, `_` and lower-to-upper
/// case changes (`articleBody` is `article`, `body`).
fn name_parts(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut previous_lower = false;
    for c in value.chars() {
        if c.is_whitespace() || c == '-' || c == '_' {
            if !part.is_empty() {
                parts.push(std::mem::take(&mut part));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !part.is_empty() {
            parts.push(std::mem::take(&mut part));
        }
        previous_lower = c.is_lowercase();
        part.extend(c.to_lowercase());
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}
