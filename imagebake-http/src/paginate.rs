use std::future::Future;

use futures::Stream;

/// One page of a listing: its items and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// Items on this page, in server order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<C>,
}

/// Streams every item of a paged listing.
///
/// `fetch(None)` asks for the first page; `fetch(Some(cursor))` for the page a
/// previous answer pointed at. The stream ends after the page whose `next` is
/// `None` and stops at the first error. Each client supplies its own cursor
/// (Triton offset, Oxide `page_token`, Outscale `NextPageToken`).
pub fn paginate<T, C, E, F, Fut>(fetch: F) -> impl Stream<Item = Result<T, E>>
where
    F: FnMut(Option<C>) -> Fut,
    Fut: Future<Output = Result<Page<T, C>, E>>,
{
    struct State<T, C, F> {
        fetch: F,
        buffered: std::vec::IntoIter<T>,
        next: Option<Option<C>>,
    }
    let state = State {
        fetch,
        buffered: Vec::new().into_iter(),
        next: Some(None),
    };
    futures::stream::try_unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.buffered.next() {
                return Ok(Some((item, s)));
            }
            let Some(cursor) = s.next.take() else {
                return Ok(None);
            };
            let page = (s.fetch)(cursor).await?;
            s.buffered = page.items.into_iter();
            s.next = page.next.map(Some);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn walks_pages_and_skips_empty_ones() {
        let pages = [vec![1, 2], vec![], vec![3]];
        let mut seen = Vec::new();
        let items: Vec<i32> = paginate(|cursor: Option<usize>| {
            seen.push(cursor);
            let i = cursor.unwrap_or(0);
            let page = Page {
                items: pages[i].clone(),
                next: (i + 1 < pages.len()).then_some(i + 1),
            };
            async move { Ok::<_, ()>(page) }
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(items, vec![1, 2, 3]);
        assert_eq!(seen, vec![None, Some(1), Some(2)]);
    }

    #[tokio::test]
    async fn stops_at_first_error() {
        let r: Result<Vec<i32>, &str> = paginate(|cursor: Option<u8>| async move {
            match cursor {
                None => Ok(Page {
                    items: vec![1],
                    next: Some(1),
                }),
                Some(_) => Err("boom"),
            }
        })
        .try_collect()
        .await;
        assert_eq!(r, Err("boom"));
    }
}
