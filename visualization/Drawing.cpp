#include "visualization/Drawing.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "core/Statistics.h"
#include "data/Error.h"
#include "data/OutputFile.h"
#include "visualization/Pictures.h"

namespace cordscope {

void writePng(const cv::Mat& bgr, const std::string& path) {
  if (bgr.type() != CV_8UC3)
    throw Error(ExitCode::AnalysisFailed, path + ": a picture must be 8-bit colour");
  // Encoded in memory, then written whole (data/OutputFile.h).
  std::string bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error(ExitCode::AnalysisFailed,
                path + ": cannot write the picture (PNG encoding failed)");
  }
  png_set_write_fn(
      png, &bytes,
      [](png_structp p, png_bytep data, png_size_t length) {
        static_cast<std::string*>(png_get_io_ptr(p))
            ->append(reinterpret_cast<const char*>(data), length);
      },
      nullptr);
  png_set_compression_level(png, 3);
  png_set_IHDR(png, info, static_cast<png_uint_32>(bgr.cols), static_cast<png_uint_32>(bgr.rows), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_bgr(png);
  png_write_info(png, info);
  for (int y = 0; y < bgr.rows; ++y) png_write_row(png, bgr.ptr<png_byte>(y));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  writeFileAtomically(path, bytes, "the picture");
}

unsigned char maskAt(const Mask* mask, const ImageSampler& grid, const Vec3& point) {
  if (!mask) return 0;
  const auto size = mask->GetBufferedRegion().GetSize();
  const Vec3 i = grid.toIndex(point);
  const long a = std::lround(i[0]), b = std::lround(i[1]), c = std::lround(i[2]);
  if (a < 0 || b < 0 || c < 0 || a >= static_cast<long>(size[0]) ||
      b >= static_cast<long>(size[1]) || c >= static_cast<long>(size[2]))
    return 0;
  return mask->GetBufferPointer()[(c * size[1] + b) * size[0] + a];
}

cv::Mat sampleIntensity(const ImageSampler& sampler, const PicturePlane& plane) {
  cv::Mat out(plane.height, plane.width, CV_32F,
              cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
  for (int y = 0; y < plane.height; ++y)
    for (int x = 0; x < plane.width; ++x)
      if (const auto v = sampler.at(plane.at(x, y))) out.at<float>(y, x) = *v;
  return out;
}

cv::Mat sampleMask(const Mask* mask, const ImageSampler& grid, const PicturePlane& plane) {
  cv::Mat out(plane.height, plane.width, CV_8U, cv::Scalar(0));
  if (!mask) return out;
  for (int y = 0; y < plane.height; ++y)
    for (int x = 0; x < plane.width; ++x)
      out.at<unsigned char>(y, x) = maskAt(mask, grid, plane.at(x, y));
  return out;
}

cv::Mat toGrey(const cv::Mat& values) {
  std::vector<double> finite;
  for (int y = 0; y < values.rows; y += 2)
    for (int x = 0; x < values.cols; x += 2)
      if (const float v = values.at<float>(y, x); std::isfinite(v)) finite.push_back(v);
  const double lo = finite.empty() ? 0 : percentile(finite, 0.005);
  const double hi = finite.empty() ? 1 : percentile(finite, 0.995);
  cv::Mat out(values.rows, values.cols, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int y = 0; y < values.rows; ++y)
    for (int x = 0; x < values.cols; ++x) {
      const float v = values.at<float>(y, x);
      if (!std::isfinite(v)) continue;
      const auto g = static_cast<unsigned char>(
          std::clamp(255.0 * (v - lo) / std::max(1e-6, hi - lo), 0.0, 255.0));
      out.at<cv::Vec3b>(y, x) = {g, g, g};
    }
  return out;
}

void drawMasks(cv::Mat& picture, const cv::Mat& cord, const cv::Mat& lesion) {
  for (int y = 0; y < picture.rows; ++y)
    for (int x = 0; x < picture.cols; ++x)
      if (lesion.at<unsigned char>(y, x)) {
        cv::Vec3b& p = picture.at<cv::Vec3b>(y, x);
        for (int k = 0; k < 3; ++k)
          p[k] = static_cast<unsigned char>(0.45 * p[k] + 0.55 * Palette::lesion[k]);
      }
  const auto edge = [](const cv::Mat& m) {
    std::vector<std::vector<cv::Point>> contours;
    cv::Mat binary = m > 0;
    cv::findContours(binary, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
    return contours;
  };
  cv::drawContours(picture, edge(lesion), -1, bgr(Palette::lesionEdge), 1, cv::LINE_AA);
  cv::drawContours(picture, edge(cord), -1, bgr(Palette::cord), 1, cv::LINE_AA);
}

void label(cv::Mat& picture, const std::string& text, cv::Point at, double scale,
           const cv::Scalar& colour, int thickness) {
  cv::putText(picture, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0),
              thickness + 2, cv::LINE_AA);
  cv::putText(picture, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv::LINE_AA);
}

}  // namespace cordscope
