#include "visualization/Render3D.h"

#include <vtkActor.h>
#include <vtkBillboardTextActor3D.h>
#include <vtkCamera.h>
#include <vtkFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPointData.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkPolyDataNormals.h>
#include <vtkProperty.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkSphereSource.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkTransform.h>
#include <vtkTransformPolyDataFilter.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowToImageFilter.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <cstdio>

#include "core/ImageSampler.h"
#include "data/Levels.h"
#include "visualization/Display.h"

namespace cordscope {
namespace {

// The surface of the voxels where `inside(value)` holds, in RAS millimetres.
template <class Inside>
vtkSmartPointer<vtkPolyData> surfaceOf(const Mask* mask, Inside inside) {
  const auto size = mask->GetBufferedRegion().GetSize();
  vtkNew<vtkImageData> image;
  // One voxel of zero padding on every side closes the surfaces at the grid's edges.
  image->SetDimensions(static_cast<int>(size[0]) + 2, static_cast<int>(size[1]) + 2,
                       static_cast<int>(size[2]) + 2);
  image->SetOrigin(-1, -1, -1);
  vtkNew<vtkUnsignedCharArray> values;
  values->SetNumberOfTuples(static_cast<vtkIdType>((size[0] + 2) * (size[1] + 2) * (size[2] + 2)));
  values->FillValue(0);
  const unsigned char* buffer = mask->GetBufferPointer();
  bool any = false;
  for (std::size_t k = 0; k < size[2]; ++k)
    for (std::size_t j = 0; j < size[1]; ++j)
      for (std::size_t i = 0; i < size[0]; ++i)
        if (inside(buffer[(k * size[1] + j) * size[0] + i])) {
          values->SetValue(
              static_cast<vtkIdType>(((k + 1) * (size[1] + 2) + j + 1) * (size[0] + 2) + i + 1),
              255);
          any = true;
        }
  if (!any) return nullptr;
  image->GetPointData()->SetScalars(values);
  vtkNew<vtkFlyingEdges3D> contour;
  contour->SetInputData(image);
  contour->SetValue(0, 127.5);
  // Index space to RAS: LPS = origin + direction * spacing * index, then x and y flipped.
  vtkNew<vtkMatrix4x4> matrix;
  const auto direction = mask->GetDirection();
  const auto spacing = mask->GetSpacing();
  const auto origin = mask->GetOrigin();
  for (int r = 0; r < 3; ++r) {
    const double flip = r < 2 ? -1.0 : 1.0;
    for (int c = 0; c < 3; ++c) matrix->SetElement(r, c, flip * direction[r][c] * spacing[c]);
    matrix->SetElement(r, 3, flip * origin[r]);
  }
  vtkNew<vtkTransform> transform;
  transform->SetMatrix(matrix);
  vtkNew<vtkTransformPolyDataFilter> placed;
  placed->SetInputConnection(contour->GetOutputPort());
  placed->SetTransform(transform);
  vtkNew<vtkWindowedSincPolyDataFilter> smooth;
  smooth->SetInputConnection(placed->GetOutputPort());
  smooth->SetNumberOfIterations(20);
  smooth->SetPassBand(0.05);
  smooth->NormalizeCoordinatesOn();
  vtkNew<vtkPolyDataNormals> normals;
  normals->SetInputConnection(smooth->GetOutputPort());
  normals->Update();
  vtkSmartPointer<vtkPolyData> out = normals->GetOutput();
  return out;
}

vtkSmartPointer<vtkActor> actorOf(vtkPolyData* surface, double r, double g, double b,
                                  double opacity) {
  vtkNew<vtkPolyDataMapper> mapper;
  mapper->SetInputData(surface);
  mapper->ScalarVisibilityOff();
  auto actor = vtkSmartPointer<vtkActor>::New();
  actor->SetMapper(mapper);
  actor->GetProperty()->SetColor(r, g, b);
  actor->GetProperty()->SetOpacity(opacity);
  actor->GetProperty()->SetSpecular(0.2);
  return actor;
}

std::string keyText(const StudyFindings& f) {
  std::string text;
  char line[160];
  if (f.cord.found) {
    std::snprintf(line, sizeof line, "cord %.0f mm, %.0f mm3\n", f.cord.lengthMm, f.cord.volumeMm3);
    text += line;
  }
  const Lesion* longest = nullptr;
  for (const Lesion& l : f.lesionMetrics)
    if (!longest || l.lengthMm > longest->lengthMm) longest = &l;
  if (longest) {
    std::snprintf(line, sizeof line, "longest lesion %.0f mm %s", longest->lengthMm,
                  longest->pattern.c_str());
    text += line;
    if (longest->topLevel && longest->bottomLevel)
      text += " " + levelName(*longest->topLevel) + "-" + levelName(*longest->bottomLevel);
    if (longest->segmentsSpanned)
      text += ", " + std::to_string(*longest->segmentsSpanned) + " segments";
    text += "\n";
  } else if (f.lesions.looked) {
    text += "no T2 lesion\n";
  }
  const CraniocervicalMeasures& c = f.craniocervical;
  if (c.adiMm || c.padiMm) {
    std::snprintf(line, sizeof line, "ADI %.1f mm   PADI %.1f mm\n", c.adiMm ? *c.adiMm : 0.0,
                  c.padiMm ? *c.padiMm : 0.0);
    text += line;
  }
  return text;
}

}  // namespace

Render3DResult writeRender3D(const StudyFindings& f, const std::string& path, int width,
                             int height) {
  Render3DResult result;
  if (!f.cord.found) {
    result.skipped = "no cord found";
    return result;
  }
  const RenderDisplay display;
  if (!display.available()) {
    result.skipped = display.why();
    return result;
  }
  result.privateDisplay = display.privateServer();

  const vtkSmartPointer<vtkPolyData> cord =
      surfaceOf(f.cord.cord.GetPointer(), [](unsigned char v) { return v != 0; });
  if (!cord) {
    result.skipped = "the cord mask is empty";
    return result;
  }
  const vtkSmartPointer<vtkPolyData> lesions =
      f.lesions.mask
          ? surfaceOf(f.lesions.mask.GetPointer(), [](unsigned char v) { return v != 0; })
          : nullptr;

  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->SetSize(width, height);
  window->SetMultiSamples(0);
  struct View {
    const char* name;
    double direction[3];  // from the focal point to the camera, RAS
  };
  const View views[3] = {
      {"left lateral", {-1, 0, 0}}, {"anterior", {0, 1, 0}}, {"oblique", {-0.8, 0.8, 0.35}}};
  for (int v = 0; v < 3; ++v) {
    vtkNew<vtkRenderer> renderer;
    renderer->SetViewport(v / 3.0, 0, (v + 1) / 3.0, 1);
    renderer->SetBackground(0.07, 0.07, 0.09);
    if (cord) renderer->AddActor(actorOf(cord, 0.92, 0.92, 0.86, lesions ? 0.3 : 0.85));
    if (lesions) renderer->AddActor(actorOf(lesions, 1.0, 0.12, 0.08, 1.0));
    for (const Disc& d : f.vertebrae.discs) {
      const Vec3 ras = rasFromLps(d.position);
      vtkNew<vtkSphereSource> sphere;
      sphere->SetCenter(ras[0], ras[1], ras[2]);
      sphere->SetRadius(3.0);
      sphere->SetThetaResolution(16);
      sphere->SetPhiResolution(12);
      sphere->Update();
      renderer->AddActor(actorOf(sphere->GetOutput(), 0.35, 0.6, 1.0, 0.45));
      if (!d.name.empty()) {
        vtkNew<vtkBillboardTextActor3D> text;
        text->SetInput(d.name.c_str());
        text->SetPosition(ras[0], ras[1] + 6, ras[2]);
        text->GetTextProperty()->SetFontSize(13);
        text->GetTextProperty()->SetColor(0.75, 0.85, 1.0);
        renderer->AddActor(text);
      }
    }
    vtkNew<vtkTextActor> title;
    title->SetInput(views[v].name);
    title->SetPosition(10, height - 28);
    title->GetTextProperty()->SetFontSize(16);
    title->GetTextProperty()->SetColor(0.9, 0.9, 0.9);
    renderer->AddActor2D(title);
    if (v == 0) {
      vtkNew<vtkTextActor> key;
      key->SetInput(keyText(f).c_str());
      key->SetPosition(10, 12);
      key->GetTextProperty()->SetFontSize(15);
      key->GetTextProperty()->SetColor(1.0, 0.85, 0.4);
      renderer->AddActor2D(key);
    }
    vtkCamera* camera = renderer->GetActiveCamera();
    double bounds[6];
    cord->GetBounds(bounds);
    const double centre[3] = {0.5 * (bounds[0] + bounds[1]), 0.5 * (bounds[2] + bounds[3]),
                              0.5 * (bounds[4] + bounds[5])};
    camera->SetFocalPoint(centre);
    camera->SetPosition(centre[0] + 400 * views[v].direction[0],
                        centre[1] + 400 * views[v].direction[1],
                        centre[2] + 400 * views[v].direction[2]);
    camera->SetViewUp(0, 0, 1);
    renderer->ResetCamera(bounds);
    camera->Zoom(1.05);
    window->AddRenderer(renderer);
  }
  window->Render();
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->ReadFrontBufferOff();
  grab->Update();
  vtkNew<vtkPNGWriter> writer;
  writer->SetFileName(path.c_str());
  writer->SetInputConnection(grab->GetOutputPort());
  writer->Write();
  window->Finalize();
  result.written = writer->GetErrorCode() == 0;
  if (!result.written) result.skipped = "the PNG could not be written";
  return result;
}

}  // namespace cordscope
