use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;

use super::StepCx;
use crate::Error;

/// One typed step of a build: it turns an `In` into an [`Step::Out`]
/// (`BuildSpec → Instance → Connected → … → Image`), so steps in the wrong
/// order do not compile.
///
/// A step that creates a cloud resource sends the create through
/// [`StepCx::create`], so that the resource is the build's from the moment
/// the request is sent (a Ctrl-C before the answer still finds and removes
/// it). Other undos are registered on `cx` (see [`StepCx::defer`],
/// [`StepCx::on_failure`]) as soon as the step learns what to undo, before
/// it awaits anything else. Long awaits go through
/// [`StepCx::cancellable`] or [`StepCx::wait_for`], so cancellation acts at
/// once. Run steps with [`StepCx::step`], which reports them as events.
///
/// The trait is object safe: a list built at run time is a
/// `Vec<Box<dyn Step<T, Out = T>>>`.
#[async_trait]
pub trait Step<In: Send + 'static>: Send + Sync {
    /// What the step produces.
    type Out: Send;

    /// The step's name, for events, logs and errors.
    fn name(&self) -> Cow<'_, str>;

    /// Does the work.
    async fn run(&self, cx: &StepCx, input: In) -> Result<Self::Out, Error>;
}

/// A step made of a name and a closure; see [`from_fn`].
pub struct FnStep<F, In> {
    name: Cow<'static, str>,
    f: F,
    _in: PhantomData<fn(In)>,
}

/// A step from a closure that gets its own handle on the context:
/// `from_fn("create key", |cx, spec| async move { … })`.
pub fn from_fn<F, In, Fut, Out>(name: impl Into<Cow<'static, str>>, f: F) -> FnStep<F, In>
where
    F: Fn(StepCx, In) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Out, Error>> + Send,
{
    FnStep {
        name: name.into(),
        f,
        _in: PhantomData,
    }
}

impl<F, In> fmt::Debug for FnStep<F, In> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnStep")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<F, In, Fut, Out> Step<In> for FnStep<F, In>
where
    In: Send + 'static,
    F: Fn(StepCx, In) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Out, Error>> + Send,
    Out: Send,
{
    type Out = Out;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }

    async fn run(&self, cx: &StepCx, input: In) -> Result<Out, Error> {
        (self.f)(cx.clone(), input).await
    }
}
