//! `mod_noop`: a handler at each of the nine callback points that does
//! nothing and returns GoOn.
//!
//! It exists to measure what the module framework itself costs per
//! request (`scripts/bench.sh noop` compares ringfront with and without it)
//! and as the smallest example of a module that registers everywhere.
//! Enable it with `Modules = mod_noop`; it has no configuration.

use crate::module::{Handler, HandlerType, InitCtx, Module, ModuleError, Point, Ret};

pub struct ModNoop;

impl Module for ModNoop {
    fn name(&self) -> &'static str {
        "mod_noop"
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        for p in Point::ALL {
            let h = match p.handler_type() {
                HandlerType::Accept => Handler::Accept(Box::new(|_| Ret::GoOn)),
                HandlerType::Request => Handler::Request(Box::new(|_| (Ret::GoOn, None))),
                HandlerType::Forward => Handler::Forward(Box::new(|_| Ret::GoOn)),
                HandlerType::Response => Handler::Response(Box::new(|_, _| Ret::GoOn)),
                HandlerType::Finish => Handler::Finish(Box::new(|_| Ret::GoOn)),
            };
            ctx.callbacks().add_handler(p, h)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::module::ModuleTables;
    use std::path::Path;

    #[test]
    fn one_handler_at_every_point() {
        let set = super::super::registry()
            .select(&["mod_noop".to_string()])
            .expect("known");
        let (cbs, _) = set
            .build_callbacks(Path::new("."), 0, ModuleTables::default())
            .expect("registers");
        for p in Point::ALL {
            assert_eq!(cbs.list(p).len(), 1, "{p:?}");
            assert_eq!(cbs.list(p).module_names().collect::<Vec<_>>(), ["mod_noop"]);
        }
    }
}
