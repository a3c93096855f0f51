def detect_landmarks(image): raise NotImplementedError
def detect_batch(images): raise NotImplementedError
