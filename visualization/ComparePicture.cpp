#include "visualization/ComparePicture.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "data/Error.h"
#include "data/Levels.h"
#include "measurement/FollowUp.h"
#include "visualization/Drawing.h"

namespace cordscope {
namespace {

constexpr double kPixelMm = 0.3;
constexpr double kHalfWidthMm = 25;

// The centerline at `arc`, linearly interpolated; empty outside it.
std::optional<CenterlineSample> sampleAt(const std::vector<CenterlineSample>& line, double arc) {
  if (line.size() < 2 || arc < line.front().arcMm || arc > line.back().arcMm) return std::nullopt;
  const auto next =
      std::lower_bound(line.begin(), line.end(), arc,
                       [](const CenterlineSample& s, double a) { return s.arcMm < a; });
  if (next == line.begin()) return *next;
  const CenterlineSample& a = *(next - 1);
  const CenterlineSample& b = *next;
  const double t = b.arcMm > a.arcMm ? (arc - a.arcMm) / (b.arcMm - a.arcMm) : 0;
  CenterlineSample s;
  s.arcMm = arc;
  s.centre = a.centre + t * (b.centre - a.centre);
  s.anterior = normalized(a.anterior + t * (b.anterior - a.anterior));
  return s;
}

}  // namespace

std::vector<CenterlineSample> readCenterlineCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read the centerline table");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream h(line);
    for (std::string field; std::getline(h, field, ',');) header.push_back(field);
  }
  const auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int arc = column("arc_mm"), x = column("x_ras_mm"), y = column("y_ras_mm"),
            z = column("z_ras_mm");
  const int ax = column("anterior_x_ras"), ay = column("anterior_y_ras"),
            az = column("anterior_z_ras");
  if (arc < 0 || x < 0 || y < 0 || z < 0)
    throw InputError(path + ": not a cordscope centerline table");
  std::vector<CenterlineSample> out;
  while (std::getline(in, line)) {
    std::vector<double> v;
    std::stringstream row(line);
    for (std::string field; std::getline(row, field, ',');)
      v.push_back(field.empty() ? 0.0 : std::stod(field));
    if (static_cast<int>(v.size()) <= std::max({arc, x, y, z})) continue;
    CenterlineSample s;
    s.arcMm = v[arc];
    s.centre = lpsFromRas({v[x], v[y], v[z]});
    s.anterior = ax >= 0 && az < static_cast<int>(v.size()) ? lpsFromRas({v[ax], v[ay], v[az]})
                                                            : Vec3{0, -1, 0};
    out.push_back(s);
  }
  return out;
}

void writeComparePicture(const std::vector<CompareColumn>& columns, const std::string& path) {
  if (columns.empty()) throw Error(ExitCode::AnalysisFailed, path + ": nothing to compare");
  const nlohmann::json& baseReport = columns.front().report;
  const auto& baseLine = columns.front().centerline;
  if (baseLine.size() < 2)
    throw Error(ExitCode::AnalysisFailed, path + ": the baseline has no centerline");
  // Rows follow the baseline's arc; every other column is read at the same level coordinate.
  // Without named levels at a time point, its own arc is used (no anatomical alignment there).
  double first = baseLine.front().arcMm, last = baseLine.back().arcMm;
  for (std::size_t k = 1; k < columns.size(); ++k) {
    const auto& line = columns[k].centerline;
    if (line.size() < 2) continue;
    for (const double arc : {line.front().arcMm, line.back().arcMm})
      if (const auto u = levelCoordinate(columns[k].report, arc))
        if (const auto b = arcAtLevelCoordinate(baseReport, *u)) {
          first = std::min(first, *b);
          last = std::max(last, *b);
        }
  }
  const int rows = static_cast<int>(std::lround((last - first) / kPixelMm)) + 1;
  const int width = static_cast<int>(std::lround(2 * kHalfWidthMm / kPixelMm));
  const int header = 46, margin = 64, gap = 8;
  cv::Mat canvas(rows + header, margin + static_cast<int>(columns.size()) * (width + gap), CV_8UC3,
                 cv::Scalar(0, 0, 0));
  for (std::size_t k = 0; k < columns.size(); ++k) {
    const CompareColumn& col = columns[k];
    cv::Mat values(rows, width, CV_32F, cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
    cv::Mat cord(rows, width, CV_8U, cv::Scalar(0)), lesion(rows, width, CV_8U, cv::Scalar(0));
    const std::optional<ImageSampler> sampler =
        col.volume ? std::optional<ImageSampler>(ImageSampler(col.volume->image.GetPointer()))
                   : std::nullopt;
    for (int y = 0; y < rows; ++y) {
      const double baseArc = first + y * kPixelMm;
      double arc = baseArc;
      if (k > 0) {
        const auto u = levelCoordinate(baseReport, baseArc);
        const auto own = u ? arcAtLevelCoordinate(col.report, *u) : std::nullopt;
        if (own) arc = *own;
      }
      const auto s = sampleAt(col.centerline, arc);
      if (!s) continue;
      for (int x = 0; x < width; ++x) {
        const Vec3 p =
            s->centre + (kHalfWidthMm - x * kPixelMm) * s->anterior;  // anterior on the left
        if (sampler) {
          if (const auto v = sampler->at(p)) values.at<float>(y, x) = *v;
          cord.at<unsigned char>(y, x) = maskAt(col.cord.GetPointer(), *sampler, p);
          lesion.at<unsigned char>(y, x) = maskAt(col.lesion.GetPointer(), *sampler, p);
        }
      }
    }
    cv::Mat tile = toGrey(values);
    drawMasks(tile, cord, lesion);
    tile.copyTo(
        canvas(cv::Rect(margin + static_cast<int>(k) * (width + gap), header, width, rows)));
    label(canvas, col.title, {margin + static_cast<int>(k) * (width + gap) + 4, 20}, 0.5);
  }
  // Level names on the left, at the middle of each baseline level; disc ticks at the boundaries.
  for (int level = 1; level <= 24; ++level)
    for (const double at : {static_cast<double>(level), level + 0.5})
      if (const auto arc = arcAtLevelCoordinate(baseReport, at);
          arc && *arc >= first && *arc <= last) {
        const int y = header + static_cast<int>(std::lround((*arc - first) / kPixelMm));
        if (at == level)
          cv::line(canvas, {margin - 10, y}, {canvas.cols - 2, y}, cv::Scalar(90, 90, 90), 1);
        else
          label(canvas, levelName(level), {6, y + 5}, 0.5);
      }
  label(canvas, "A", {margin + 2, header + 16}, 0.45);
  label(canvas, "rows: same vertebral level", {margin, 40}, 0.4, cv::Scalar(180, 180, 180));
  writePng(canvas, path);
}

void writeTrendChart(const std::vector<TrendPoint>& points, const std::string& xTitle,
                     const std::string& path) {
  const int w = 720, h = 420, left = 70, right = 30, top = 40, bottom = 60;
  cv::Mat chart(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  double xMax = 1, yMax = 7;
  for (const TrendPoint& p : points) {
    xMax = std::max(xMax, p.x);
    yMax = std::max(yMax, static_cast<double>(p.maxSegments) + 1);
  }
  const auto X = [&](double x) {
    return left + static_cast<int>(std::lround((w - left - right) * x / xMax));
  };
  const auto Y = [&](double y) {
    return h - bottom - static_cast<int>(std::lround((h - top - bottom) * y / yMax));
  };
  cv::line(chart, {left, h - bottom}, {w - right, h - bottom}, cv::Scalar(0, 0, 0), 1);
  cv::line(chart, {left, top}, {left, h - bottom}, cv::Scalar(0, 0, 0), 1);
  for (int s = 0; s <= static_cast<int>(yMax); ++s) {
    cv::line(chart, {left - 4, Y(s)}, {left, Y(s)}, cv::Scalar(0, 0, 0), 1);
    cv::putText(chart, std::to_string(s), {left - 28, Y(s) + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  // The seven-segment threshold.
  cv::line(chart, {left, Y(7)}, {w - right, Y(7)}, cv::Scalar(120, 120, 255), 1, cv::LINE_AA);
  cv::putText(chart, "7 segments", {w - right - 90, Y(7) - 6}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
              cv::Scalar(80, 80, 220), 1, cv::LINE_AA);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const cv::Point p(X(points[i].x), Y(points[i].maxSegments));
    if (i > 0)
      cv::line(chart, {X(points[i - 1].x), Y(points[i - 1].maxSegments)}, p,
               cv::Scalar(30, 30, 200), 2, cv::LINE_AA);
    cv::circle(chart, p, 5, cv::Scalar(30, 30, 200), -1, cv::LINE_AA);
    cv::putText(chart, points[i].label, {p.x - 30, h - bottom + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(chart, "segments spanned (longest lesion)", {left, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
              cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::putText(chart, xTitle, {w / 2 - 60, h - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
              cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  writePng(chart, path);
}

}  // namespace cordscope
