// Drawing helpers the pictures share: flat planes in patient space sampled into OpenCV images,
// masks read by nearest neighbour, grey windowing, lesion and cord overlays, outlined text.
#pragma once
#include <opencv2/core.hpp>
#include <string>

#include "core/ImageSampler.h"
#include "data/Volume.h"

namespace cordscope {

inline cv::Scalar bgr(const unsigned char (&c)[3]) {
  return cv::Scalar(c[0], c[1], c[2]);
}

// A flat picture plane in patient space: pixel (x, y) is origin + x * pixel * right + y * pixel *
// down.
struct PicturePlane {
  Vec3 origin{}, right{}, down{};
  double pixel = 0.5;
  int width = 0, height = 0;
  Vec3 at(double x, double y) const { return origin + (x * pixel) * right + (y * pixel) * down; }
  cv::Point2d project(const Vec3& p) const {
    const Vec3 d = p - origin;
    return {dot(d, right) / pixel, dot(d, down) / pixel};
  }
};

cv::Mat sampleIntensity(const ImageSampler& sampler, const PicturePlane& plane);
// A mask on the input grid read at the plane's pixels by nearest neighbour.
cv::Mat sampleMask(const Mask* mask, const ImageSampler& grid, const PicturePlane& plane);
// Value of `mask` (input grid) nearest a patient point; 0 outside.
unsigned char maskAt(const Mask* mask, const ImageSampler& grid, const Vec3& point);
// Grey picture, windowed on the 0.5th-99.5th percentiles of what it shows.
cv::Mat toGrey(const cv::Mat& values);
// Lesions filled in red (half transparent) with an orange edge; the cord's outline in green.
void drawMasks(cv::Mat& picture, const cv::Mat& cord, const cv::Mat& lesion);
// Writes an 8-bit BGR picture as PNG (libpng; OpenCV's codecs would load GDAL and some 80
// libraries at every start of the program). Throws Error naming the file when it cannot.
void writePng(const cv::Mat& bgr, const std::string& path);

// Text with a dark outline, readable on any background.
void label(cv::Mat& picture, const std::string& text, cv::Point at, double scale,
           const cv::Scalar& colour = cv::Scalar(255, 255, 255), int thickness = 1);

}  // namespace cordscope
