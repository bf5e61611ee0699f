//! A Keras-like model summary: one row per layer (name, output shape, parameters) and the totals.
//!
//! Output shapes are written as Keras prints them, channels last with `None` for the batch, so
//! the table reads like the report's; Burn itself computes channels first.

use std::fmt;

/// One layer of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// `name (Type)`, as Keras names them.
    pub layer: String,
    /// Output shape without the batch axis, channels last.
    pub output: Vec<usize>,
    /// Parameters of the layer (trainable and not).
    pub params: usize,
    /// The part of `params` that is not trained (batch norm's moving mean and variance).
    pub non_trainable: usize,
}

impl SummaryRow {
    /// A row whose parameters are all trainable.
    pub fn new(layer: impl Into<String>, output: Vec<usize>, params: usize) -> Self {
        Self {
            layer: layer.into(),
            output,
            params,
            non_trainable: 0,
        }
    }

    /// The batch norm of layer `n` over `channels`: gamma and beta trained, mean and variance not.
    pub fn batch_norm(n: usize, output: Vec<usize>, channels: usize) -> Self {
        Self {
            layer: format!("batch_normalization_{n} (BatchNormalization)"),
            output,
            params: 4 * channels,
            non_trainable: 2 * channels,
        }
    }
}

/// A model's layer table and parameter totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Model name (`cnn1d`, `cnn2d`).
    pub name: String,
    /// Input shape without the batch axis, channels last.
    pub input: Vec<usize>,
    /// Layers in order.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// A summary of `rows`.
    pub fn new(name: impl Into<String>, input: Vec<usize>, rows: Vec<SummaryRow>) -> Self {
        Self {
            name: name.into(),
            input,
            rows,
        }
    }

    /// All parameters, as Keras' "Total params".
    pub fn total(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// Parameters updated by the optimiser (what Burn's `num_params` counts).
    pub fn trainable(&self) -> usize {
        self.total() - self.non_trainable()
    }

    /// Parameters not trained (batch norm statistics).
    pub fn non_trainable(&self) -> usize {
        self.rows.iter().map(|r| r.non_trainable).sum()
    }

    /// The output size of the last flatten (the first dense layer's input).
    pub fn flatten_len(&self) -> Option<usize> {
        self.rows
            .iter()
            .find(|r| r.layer.ends_with("(Flatten)"))
            .and_then(|r| r.output.first().copied())
    }
}

/// `1234567` → `1,234,567` (any integer type: parameter counts past `usize` too).
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn shape(dims: &[usize]) -> String {
    let mut parts = vec!["None".to_string()];
    parts.extend(dims.iter().map(|d| d.to_string()));
    format!("({})", parts.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_w = self
            .rows
            .iter()
            .map(|r| r.layer.len())
            .chain(["Layer (type)".len()])
            .max()
            .unwrap_or(0);
        let shape_w = self
            .rows
            .iter()
            .map(|r| shape(&r.output).len())
            .chain(["Output Shape".len()])
            .max()
            .unwrap_or(0);
        let param_w = self
            .rows
            .iter()
            .map(|r| thousands(r.params).len())
            .chain(["Param #".len()])
            .max()
            .unwrap_or(0);
        let width = name_w + shape_w + param_w + 4;
        writeln!(f, "Model: \"{}\"  input {}", self.name, shape(&self.input))?;
        writeln!(f, "{}", "_".repeat(width))?;
        writeln!(
            f,
            "{:<name_w$}  {:<shape_w$}  {:>param_w$}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{}", "=".repeat(width))?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<name_w$}  {:<shape_w$}  {:>param_w$}",
                r.layer,
                shape(&r.output),
                thousands(r.params)
            )?;
        }
        writeln!(f, "{}", "=".repeat(width))?;
        writeln!(f, "Total params: {}", thousands(self.total()))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable()))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.non_trainable())
        )?;
        write!(f, "{}", "_".repeat(width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(2_430_342), "2,430,342");
        assert_eq!(thousands(12_893_574), "12,893,574");
    }
}
