"""The desktop editor: GLFW + Dear ImGui (imgui-bundle) + OpenGL, on top of the worker.

Toolkit (knows nothing about models): `window`, `texture`, `driver`, `theme`, `shortcuts`.
Panels and views: `panels` (left controls), `canvas` (the image), `progress`, `researcher`.
`app` wires them to `draggan.worker.EditWorker`. Import `draggan.gui.app.run_gui` lazily:
it needs a display and the GUI extras.
"""
