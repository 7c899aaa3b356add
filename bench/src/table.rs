//! A plain-text table with aligned columns.

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, label: &str, cells: Vec<String>) {
        let mut row = vec![label.to_string()];
        row.extend(cells);
        self.rows.push(row);
    }

    /// Adds a column whose cell in each row is `cell(row label)`.
    pub fn append_column(&mut self, title: &str, cell: impl Fn(&str) -> String) {
        self.header.push(title.to_string());
        for row in &mut self.rows {
            if !(row.len() == 1 && row[0].starts_with("-- ")) {
                let value = cell(&row[0]);
                row.push(value);
            }
        }
    }

    /// A full-width section title.
    pub fn section(&mut self, title: &str) {
        self.rows.push(vec![format!("-- {title}")]);
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            if row.len() == 1 && row[0].starts_with("-- ") {
                continue;
            }
            for (i, cell) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let total: usize = width.iter().sum::<usize>() + 3 * (cols - 1);
        let line = |row: &[String]| -> String {
            let mut out = String::new();
            for (i, cell) in row.iter().enumerate().take(cols) {
                if i > 0 {
                    out.push_str(" | ");
                }
                let pad = width[i] - cell.chars().count();
                if i == 0 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for row in &self.rows {
            if row.len() == 1 && row[0].starts_with("-- ") {
                out.push_str(&row[0]);
            } else {
                out.push_str(&line(row));
            }
            out.push('\n');
        }
        out
    }
}
