// Time-series charts on uPlot: small (about 50 KB), fast with thousands of points (a
// week of minutes is 10,080), made for time series, and MIT. Times on the axis and in
// the legend are UTC, like the API's.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatCompact, formatMinute } from "./format";

/** One line of a chart. */
export interface Line {
  label: string;
  color: string;
  /** The legend's value at the cursor. */
  format: (value: number) => string;
  values: (number | null)[];
}

export interface ChartOptions {
  height: number;
  /** The legend's time at the cursor (default: the minute, UTC). */
  formatTime?: (millis: number) => string;
  /** Called with a range (milliseconds) the user dragged across; none: no selection. */
  onSelect?: (from: number, to: number) => void;
  /** What to say when every value is zero or there are no points. */
  emptyText?: string;
}

/** A chart that fills its container's width and follows it when it resizes. */
export class TimeChart {
  private plot: uPlot | null = null;
  private shape = "";
  private readonly canvas: HTMLElement;
  private readonly empty: HTMLElement;

  constructor(
    container: HTMLElement,
    private readonly options: ChartOptions,
  ) {
    this.canvas = document.createElement("div");
    this.empty = document.createElement("div");
    this.empty.className = "chart-empty";
    this.empty.hidden = true;
    container.append(this.canvas, this.empty);
    new ResizeObserver(() => {
      this.plot?.setSize({ width: this.width(), height: this.options.height });
    }).observe(container);
  }

  /** Shows `lines` over `times` (milliseconds). */
  show(times: number[], lines: Line[]): void {
    const data: uPlot.AlignedData = [times.map((time) => time / 1000), ...lines.map((line) => line.values)];
    const hasData = lines.some((line) => line.values.some((value) => value !== null && value !== 0));
    this.empty.hidden = hasData;
    this.empty.textContent = this.options.emptyText ?? "No data";
    // A new chart when the lines change (their labels, formats, or how many points are
    // marked); otherwise new data in the same chart, which keeps the cursor.
    const shape = JSON.stringify([lines.map((line) => line.label), times.length <= 120]);
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.shape = shape;
    this.plot = new uPlot(this.config(lines, times.length), data, this.canvas);
  }

  private width(): number {
    return Math.max(300, this.canvas.parentElement?.clientWidth ?? 600);
  }

  private config(lines: Line[], points: number): uPlot.Options {
    const formatTime = this.options.formatTime ?? formatMinute;
    const onSelect = this.options.onSelect;
    return {
      width: this.width(),
      height: this.options.height,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      scales: {
        x: { time: true },
        y: { range: (_plot, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      cursor: {
        y: false,
        drag: { x: onSelect !== undefined, y: false, setScale: false },
        points: { size: 7 },
      },
      legend: { live: true },
      series: [
        {
          label: "UTC",
          value: (_plot, seconds) => (seconds == null ? "—" : formatTime(seconds * 1000)),
        },
        ...lines.map(
          (line): uPlot.Series => ({
            label: line.label,
            stroke: line.color,
            // One line is filled; several stay apart.
            fill: lines.length === 1 ? `${line.color}1f` : undefined,
            width: 2,
            points: { show: points <= 120, size: 4 },
            value: (_plot, value) => (value == null ? "—" : line.format(value)),
          }),
        ),
      ],
      axes: [
        {
          stroke: "#5b6473",
          grid: { stroke: "#e9ecf1", width: 1 },
          ticks: { stroke: "#d5dae2", width: 1 },
          // Whole seconds at the finest: readings are seconds apart, buckets minutes.
          incrs: TIME_STEPS,
          values: timeLabels,
        },
        {
          stroke: "#5b6473",
          size: 56,
          grid: { stroke: "#e9ecf1", width: 1 },
          ticks: { show: false },
          values: (_plot, ticks) => ticks.map((tick) => formatCompact(tick)),
        },
      ],
      hooks: onSelect
        ? {
            setSelect: [
              (plot) => {
                const { left, width } = plot.select;
                if (width < 4) return;
                const from = plot.posToVal(left, "x") * 1000;
                const to = plot.posToVal(left + width, "x") * 1000;
                plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                onSelect(from, to);
              },
            ],
          }
        : {},
    };
  }
}

/** The time axis' possible steps between ticks, in seconds. */
const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
  2 * 86400, 7 * 86400,
];

/**
 * Time-axis labels in UTC, 24-hour: "14:05" (with seconds when ticks are closer than a
 * minute), and the date under the first tick and wherever the day changes.
 */
function timeLabels(_plot: uPlot, ticks: number[], _axis: number, _space: number, increment: number): string[] {
  let day = "";
  return ticks.map((seconds) => {
    const text = new Date(seconds * 1000).toISOString();
    const clock = increment < 60 ? text.slice(11, 19) : text.slice(11, 16);
    const today = text.slice(0, 10);
    if (today === day) return clock;
    day = today;
    return `${clock}\n${today}`;
  });
}
