//! A browser's tabs: list, open, select, close. Tabs the pages open themselves (popups,
//! `target=_blank` links) are adopted whenever the tabs are looked at, and tabs that closed
//! themselves are forgotten.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    BrowserError,
    events::Tab,
    session::{BrowserSession, NAVIGATION_TIMEOUT, WaitUntil, configure},
};

/// One tab.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TabInfo {
    /// Its position, from 0 (pass it to browser_tabs select or close).
    pub index: usize,
    /// Its URL.
    pub url: String,
    /// Its title.
    pub title: String,
    /// True for the tab the browser tools act on.
    pub current: bool,
}

/// A tab opened by [`BrowserSession::new_tab_at`].
#[derive(Debug)]
pub struct NewTab {
    /// The browser's tabs, the new one current.
    pub tabs: Vec<TabInfo>,
    /// True when a dialog opened while the page loaded (the tabs are as before the load).
    pub dialog_opened: bool,
}

impl BrowserSession {
    /// Every tab, in the order they were opened, after adopting the tabs the pages opened and
    /// forgetting the ones that closed.
    pub async fn list_tabs(&self) -> Result<Vec<TabInfo>, BrowserError> {
        let _calls = self.begin().await?;
        self.sync_tabs().await
    }

    /// Opens a tab and makes it current; with a `url` (already checked against the net
    /// policy), loads it there as browser_navigate does by default. A dialog the page opens
    /// meanwhile ends the wait ([`NewTab::dialog_opened`]).
    pub async fn new_tab_at(&self, url: Option<&url::Url>) -> Result<NewTab, BrowserError> {
        let mut tabs = self.new_tab().await?;
        let Some(url) = url else {
            return Ok(NewTab {
                tabs,
                dialog_opened: false,
            });
        };
        let loaded = self
            .unless_dialog(self.navigate(url, WaitUntil::Load, NAVIGATION_TIMEOUT))
            .await?;
        if loaded.is_some() {
            tabs = self.list_tabs().await?;
        }
        Ok(NewTab {
            tabs,
            dialog_opened: loaded.is_none(),
        })
    }

    /// Opens a blank tab and makes it current.
    pub async fn new_tab(&self) -> Result<Vec<TabInfo>, BrowserError> {
        let _calls = self.begin().await?;
        let tab = self.open_tab().await?;
        {
            let mut tabs = self.tabs();
            tabs.list.push(tab);
            tabs.current = tabs.list.len() - 1;
        }
        self.sync_tabs().await
    }

    /// Makes tab `index` current.
    pub async fn select_tab(&self, index: usize) -> Result<Vec<TabInfo>, BrowserError> {
        let _calls = self.begin().await?;
        let count = self.sync_tabs().await?.len();
        if index >= count {
            return Err(no_such_tab(index, count));
        }
        self.tabs().current = index;
        self.call("Page.bringToFront", json!({})).await?;
        self.sync_tabs().await
    }

    /// Closes tab `index` (default: the current one). The last tab cannot be closed: close
    /// the browser instead.
    pub async fn close_tab(&self, index: Option<usize>) -> Result<Vec<TabInfo>, BrowserError> {
        let _calls = self.begin().await?;
        let count = self.sync_tabs().await?.len();
        let index = index.unwrap_or_else(|| self.tabs().current);
        if index >= count {
            return Err(no_such_tab(index, count));
        }
        if count == 1 {
            return Err(BrowserError::Invalid(
                "this is the browser's only tab; close the browser with browser_close instead"
                    .into(),
            ));
        }
        let closed = {
            let mut tabs = self.tabs();
            let closed = tabs.list.remove(index);
            if tabs.current > index || tabs.current == tabs.list.len() {
                tabs.current = tabs.current.saturating_sub(1);
            }
            closed
        };
        super::cdp::call(&closed.page, self.dead(), "Page.close", json!({})).await?;
        self.sync_tabs().await
    }

    /// Brings the tab list in line with Chromium's and describes it.
    async fn sync_tabs(&self) -> Result<Vec<TabInfo>, BrowserError> {
        let targets = self.lease.tab_targets().await?;
        let known: HashSet<String> = self
            .tabs()
            .list
            .iter()
            .map(|tab| tab.page.target_id().inner().clone())
            .collect();
        for target in targets.iter().filter(|t| !known.contains(&t.id)) {
            // A tab that closed again before it could be adopted is simply not listed.
            let Ok(page) = self.lease.page_of(&target.id).await else {
                continue;
            };
            configure(&page, self.dead(), &self.options()).await?;
            let tab = Tab::watch(page, &self.activity).await?;
            self.tabs().list.push(tab);
        }
        let open: HashSet<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        let current = self.tabs().current().target_id().inner().clone();
        let emptied = {
            let mut tabs = self.tabs();
            tabs.list
                .retain(|tab| open.contains(tab.page.target_id().inner().as_str()));
            tabs.list.is_empty()
        };
        if emptied {
            // Every tab closed itself (window.close()): a blank one takes their place.
            let tab = self.open_tab().await?;
            self.tabs().list.push(tab);
        }
        let mut tabs = self.tabs();
        tabs.current = tabs
            .list
            .iter()
            .position(|tab| tab.page.target_id().inner() == &current)
            .unwrap_or(tabs.list.len() - 1);
        Ok(tabs
            .list
            .iter()
            .enumerate()
            .map(|(index, tab)| {
                let target = targets
                    .iter()
                    .find(|t| &t.id == tab.page.target_id().inner());
                TabInfo {
                    index,
                    url: target.map_or_else(|| "about:blank".into(), |t| t.url.clone()),
                    title: target.map(|t| t.title.clone()).unwrap_or_default(),
                    current: index == tabs.current,
                }
            })
            .collect())
    }
}

fn no_such_tab(index: usize, count: usize) -> BrowserError {
    BrowserError::Invalid(format!(
        "no tab {index}: this browser has {count} tab(s), indexes 0 to {}; browser_tabs \
         action=list shows them",
        count.saturating_sub(1)
    ))
}
