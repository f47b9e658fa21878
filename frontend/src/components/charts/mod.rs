//! Charts for the console, in plain SVG: the arithmetic of axes in [`scale`], drawing in
//! [`line`]. One place for every chart, so they all read the same way (axes, units, legend).

pub mod line;
pub mod scale;

pub use line::{ChartSeries, Colour, LineChart, Threshold};
