#include "visualization/Pictures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/ImageSampler.h"
#include "core/Statistics.h"
#include "data/Error.h"
#include "data/Levels.h"
#include "visualization/Drawing.h"

namespace cordscope {
namespace {

std::string mmText(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f mm", v);
  return text;
}

// The finest in-plane spacing of the input along the plane's axes (its "full resolution").
double nativePixel(const Image* image, const Vec3& normal) {
  double best = 1e9;
  const auto direction = image->GetDirection();
  for (int axis = 0; axis < 3; ++axis) {
    const Vec3 d{direction[0][axis], direction[1][axis], direction[2][axis]};
    if (std::abs(dot(d, normal)) < 0.7) best = std::min(best, image->GetSpacing()[axis]);
  }
  return best < 1e8 ? best : image->GetSpacing()[0];
}

// The spacing of the input along the plane's normal (between neighbouring sagittal planes).
double normalSpacing(const Image* image, const Vec3& normal) {
  const auto direction = image->GetDirection();
  double spacing = 0, weight = 0;
  for (int axis = 0; axis < 3; ++axis) {
    const Vec3 d{direction[0][axis], direction[1][axis], direction[2][axis]};
    const double w = std::abs(dot(d, normal));
    spacing += w * w * image->GetSpacing()[axis];
    weight += w * w;
  }
  return weight > 0 ? spacing / weight : 1.0;
}

struct Frame {
  Vec3 lateral{}, up{}, anterior{}, centre{};
  double top = 0, bottom = 0;  // along up, mm from centre (top > bottom)
};

// The mid-sagittal frame of the cord: normal = the cord's mean lateral direction, up = patient
// superior in that plane, anterior = the cord's mean anterior in it.
Frame cordFrame(const CordSegmentation& cord) {
  Frame f;
  Vec3 lateral{0, 0, 0}, anterior{0, 0, 0}, centre{0, 0, 0};
  for (const CrossSection& s : cord.sections) {
    lateral = lateral + cross(s.tangent, s.anterior);
    anterior = anterior + s.anterior;
    centre = centre + s.centre;
  }
  f.lateral = normalized(lateral);
  const Vec3 superior{0, 0, 1};
  f.up = normalized(superior - dot(superior, f.lateral) * f.lateral);
  f.anterior =
      normalized(anterior - dot(anterior, f.lateral) * f.lateral - dot(anterior, f.up) * f.up);
  f.centre = (1.0 / cord.sections.size()) * centre;
  f.top = -1e9;
  f.bottom = 1e9;
  for (const CrossSection& s : cord.sections) {
    const double u = dot(s.centre - f.centre, f.up);
    f.top = std::max(f.top, u);
    f.bottom = std::min(f.bottom, u);
  }
  return f;
}

// The volume's extent along a direction, relative to a point.
std::pair<double, double> extentAlong(const Image* image, const Vec3& from, const Vec3& direction) {
  const ImageSampler sampler(image);
  const auto size = image->GetLargestPossibleRegion().GetSize();
  double lo = 1e9, hi = -1e9;
  for (int corner = 0; corner < 8; ++corner) {
    const Vec3 index{corner & 1 ? size[0] - 0.5 : -0.5, corner & 2 ? size[1] - 0.5 : -0.5,
                     corner & 4 ? size[2] - 0.5 : -0.5};
    const double t = dot(sampler.toPoint(index) - from, direction);
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  return {lo, hi};
}

PicturePlane sagittalPlane(const Frame& f, const Image* image, double offsetMm, double pixel) {
  const auto [upLo, upHi] = extentAlong(image, f.centre, f.up);
  const auto [antLo, antHi] = extentAlong(image, f.centre, f.anterior);
  const double top = std::min(upHi, f.top + 45), bottom = std::max(upLo, f.bottom - 15);
  const double front = std::min(antHi, 60.0), back = std::max(antLo, -60.0);
  PicturePlane p;
  p.pixel = pixel;
  p.right = -1.0 * f.anterior;  // anterior on the left
  p.down = -1.0 * f.up;
  p.origin = f.centre + offsetMm * f.lateral + top * f.up + front * f.anterior;
  p.width = std::max(1, static_cast<int>(std::lround((front - back) / pixel)));
  p.height = std::max(1, static_cast<int>(std::lround((top - bottom) / pixel)));
  return p;
}

void drawOrientation(cv::Mat& picture, const PicturePlane& plane, double scale) {
  const int w = picture.cols, h = picture.rows;
  label(picture, "S", {w / 2 - 6, 22}, scale);
  label(picture, "I", {w / 2 - 4, h - 10}, scale);
  label(picture, "A", {6, h / 2}, scale);
  label(picture, "P", {w - 22, h / 2}, scale);
  // 10 mm scale bar, bottom left.
  const int bar = static_cast<int>(std::lround(10 / plane.pixel));
  cv::line(picture, {12, h - 24}, {12 + bar, h - 24}, cv::Scalar(255, 255, 255), 3);
  label(picture, "10 mm", {12, h - 32}, 0.45 * scale);
}

void drawLevels(cv::Mat& picture, const PicturePlane& plane, const VertebralLabels& vertebrae,
                double scale) {
  for (const Disc& d : vertebrae.discs) {
    if (d.name.empty()) continue;
    const cv::Point2d p = plane.project(d.position);
    if (p.y < 0 || p.y >= picture.rows) continue;
    const cv::Point q(static_cast<int>(p.x) - 14, static_cast<int>(p.y));
    cv::line(picture, {static_cast<int>(p.x) - 10, q.y}, {static_cast<int>(p.x) - 2, q.y},
             cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    int baseline = 0;
    const cv::Size size =
        cv::getTextSize(d.name, cv::FONT_HERSHEY_SIMPLEX, 0.45 * scale, 1, &baseline);
    label(picture, d.name, {std::max(2, q.x - size.width), q.y + size.height / 2}, 0.45 * scale);
  }
}

void drawCraniocervical(cv::Mat& picture, const PicturePlane& plane,
                        const CraniocervicalMeasures& m, double scale) {
  const CraniocervicalLandmarks& l = m.landmarks;
  const auto line = [&](const std::optional<Vec3>& a, const std::optional<Vec3>& b,
                        const cv::Scalar& colour, const std::string& text, int side) {
    if (!a || !b) return;
    const cv::Point2d p = plane.project(*a), q = plane.project(*b);
    cv::line(picture, p, q, colour, 2, cv::LINE_AA);
    cv::circle(picture, p, 2, colour, -1, cv::LINE_AA);
    cv::circle(picture, q, 2, colour, -1, cv::LINE_AA);
    const cv::Point2d mid = 0.5 * (p + q);
    label(picture, text, {static_cast<int>(mid.x) - 30, static_cast<int>(mid.y) + side * 16},
          0.45 * scale, colour);
  };
  if (m.adiMm)
    line(l.densAnteriorCortex, l.c1AnteriorArchPosteriorCortex, bgr(Palette::adi),
         "ADI " + mmText(*m.adiMm), -1);
  if (m.padiMm)
    line(l.densPosteriorCortex, l.c1PosteriorArchAnteriorMargin, bgr(Palette::padi),
         "PADI " + mmText(*m.padiMm), +1);
  if (l.basion && l.opisthion) {
    cv::line(picture, plane.project(*l.basion), plane.project(*l.opisthion),
             cv::Scalar(200, 200, 200), 1, cv::LINE_AA);
    label(picture, "McRae", plane.project(*l.opisthion) + cv::Point2d(4, -4), 0.4 * scale,
          cv::Scalar(200, 200, 200));
  }
  if (l.densTip)
    cv::circle(picture, plane.project(*l.densTip), 3, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
}

// The cross-section plane at `s`: anterior up, the patient's right on the left (radiological).
PicturePlane axialPlane(const CrossSection& s, double halfMm, double pixel) {
  Vec3 left = cross(s.tangent, s.anterior);
  if (left[0] < 0) left = -1.0 * left;  // LPS +x is the patient's left: image right
  PicturePlane p;
  p.pixel = pixel;
  p.right = left;
  p.down = -1.0 * s.anterior;
  p.origin = s.centre - halfMm * p.right - halfMm * p.down;
  p.width = p.height = static_cast<int>(std::lround(2 * halfMm / pixel));
  return p;
}

void paste(cv::Mat& canvas, const cv::Mat& tile, int x, int y) {
  if (x + tile.cols > canvas.cols || y + tile.rows > canvas.rows) return;
  tile.copyTo(canvas(cv::Rect(x, y, tile.cols, tile.rows)));
}

}  // namespace

void writeSagittalPicture(const StudyFindings& f, const std::string& path) {
  const Image* image = f.volume.image.GetPointer();
  const ImageSampler sampler(image);
  if (!f.cord.found || f.cord.sections.size() < 2)
    throw Error(ExitCode::AnalysisFailed, path + ": no cord, so no sagittal picture");
  const Frame frame = cordFrame(f.cord);
  const Mask* lesionMask = f.lesions.mask.GetPointer();

  // The main picture: the mid-sagittal plane at the input's in-plane resolution (at least 900
  // pixels high, so that the lines and labels read).
  double pixel = nativePixel(image, frame.lateral);
  {
    const PicturePlane probe = sagittalPlane(frame, image, 0, pixel);
    if (probe.height < 900) pixel *= probe.height / 900.0;
    if (probe.height * probe.pixel / pixel > 1600) pixel = probe.height * probe.pixel / 1600;
  }
  const PicturePlane plane = sagittalPlane(frame, image, 0, pixel);
  cv::Mat main = toGrey(sampleIntensity(sampler, plane));
  drawMasks(main, sampleMask(f.cord.cord.GetPointer(), sampler, plane),
            sampleMask(lesionMask, sampler, plane));
  const double scale = std::clamp(main.rows / 900.0, 0.8, 1.6);
  drawLevels(main, plane, f.vertebrae, scale);
  drawCraniocervical(main, plane, f.craniocervical, scale);
  drawOrientation(main, plane, scale);
  label(main, "mid-sagittal", {main.cols / 2 + 20, 22}, 0.5 * scale);

  // Beside it: the parallel sagittal planes through the cord (a montage), then an axial cut
  // through each lesion at its largest section.
  const double spacing = std::max(0.5, normalSpacing(image, frame.lateral));
  std::vector<std::pair<double, cv::Mat>> tiles;
  for (int k = -5; k <= 5; ++k) {
    if (k == 0) continue;
    const PicturePlane p = sagittalPlane(frame, image, k * spacing, pixel * 2.5);
    const cv::Mat cordMask = sampleMask(f.cord.cord.GetPointer(), sampler, p);
    if (cv::countNonZero(cordMask) < 30) continue;
    cv::Mat tile = toGrey(sampleIntensity(sampler, p));
    drawMasks(tile, cordMask, sampleMask(lesionMask, sampler, p));
    char text[32];
    std::snprintf(text, sizeof text, "%s %.1f mm", k < 0 ? "R" : "L", std::abs(k * spacing));
    label(tile, text, {4, 16}, 0.45);
    tiles.push_back({k * spacing, tile});
  }
  std::vector<cv::Mat> axials;
  for (const Lesion& lesion : f.lesionMetrics) {
    if (axials.size() >= 6) break;
    const CrossSection* best = nullptr;
    int bestCount = 0;
    for (const CrossSection& s : f.cord.sections) {
      if (s.arcMm < lesion.topArcMm || s.arcMm > lesion.bottomArcMm) continue;
      const cv::Mat m = sampleMask(lesionMask, sampler, axialPlane(s, 12, 0.25));
      const int count = cv::countNonZero(m == lesion.id);
      if (count > bestCount) {
        bestCount = count;
        best = &s;
      }
    }
    if (!best) continue;
    const PicturePlane p = axialPlane(*best, 12, 0.1);
    cv::Mat tile = toGrey(sampleIntensity(sampler, p));
    drawMasks(tile, sampleMask(f.cord.cord.GetPointer(), sampler, p),
              sampleMask(lesionMask, sampler, p) == lesion.id);
    std::string text = "#" + std::to_string(lesion.id) + " " + lesion.pattern;
    if (lesion.topLevel) text += " " + levelName(levelAtArc(f.vertebrae.discs, best->arcMm));
    label(tile, text, {4, 16}, 0.45);
    label(tile, "A", {tile.cols / 2 - 5, tile.rows - 30 > 0 ? 34 : 16}, 0.45);
    label(tile, "R", {4, tile.rows / 2}, 0.45);
    axials.push_back(tile);
  }

  const int tileW = tiles.empty() ? 0 : tiles.front().second.cols,
            tileH = tiles.empty() ? 0 : tiles.front().second.rows;
  const int columns = tiles.empty() ? 0 : std::min<int>(4, static_cast<int>(tiles.size()));
  const int rows = columns ? (static_cast<int>(tiles.size()) + columns - 1) / columns : 0;
  const int axialSize = axials.empty() ? 0 : axials.front().cols;
  const int rightWidth =
      std::max(columns * (tileW + 4), static_cast<int>(axials.size()) * (axialSize + 4));
  const int height = std::max(main.rows, rows * (tileH + 4) + (axials.empty() ? 0 : axialSize + 8));
  cv::Mat canvas(height, main.cols + 8 + rightWidth, CV_8UC3, cv::Scalar(0, 0, 0));
  paste(canvas, main, 0, 0);
  for (std::size_t i = 0; i < tiles.size(); ++i)
    paste(canvas, tiles[i].second, main.cols + 8 + static_cast<int>(i % columns) * (tileW + 4),
          static_cast<int>(i / columns) * (tileH + 4));
  for (std::size_t i = 0; i < axials.size(); ++i)
    paste(canvas, axials[i], main.cols + 8 + static_cast<int>(i) * (axialSize + 4),
          rows * (tileH + 4) + 8);
  writePng(canvas, path);
}

}  // namespace cordscope
